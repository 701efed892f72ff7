#include "server/http_router.h"

#include <ctime>
#include <span>

#include "server/http_errors.h"
#include "server/openai_chat_handler.h"
#include "server/openai_completions_handler.h"
#include "server/prompt_builder.h"
#include "server/request_validation.h"

namespace pagoda::server {

namespace http = boost::beast::http;
using Json = nlohmann::ordered_json;

StatusOr<Json> parse_json_body(std::string_view body, int max_depth) {
  if (body.empty()) return invalid_argument("the request body is empty; expected a JSON object");
  // Nesting depth, counted outside strings, before the parser recurses.
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return invalid_argument("the request body nests deeper than " + std::to_string(max_depth) +
                                " levels");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument("the request body is not valid JSON");
  if (!j.is_object()) return invalid_argument("the request body must be a JSON object");
  return j;
}

void respond_error(HttpExchange& ex, const Status& status) {
  unsigned code = http_status_of(status.code());
  ex.access().error = status.message();
  ex.respond(code, openai_error_body(code, status.message(), param_of(status)));
}

void HttpRouter::handle(const std::shared_ptr<HttpExchange>& exchange) {
  HttpExchange& ex = *exchange;
  const HttpRequest& req = ex.request();
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  ex.access().route = std::string(path.substr(0, 64));
  bool get = req.method() == http::verb::get;
  bool post = req.method() == http::verb::post;

  if (path == "/health" || path == "/v1/health") {
    if (!get) return respond_error(ex, Status(StatusCode::kInvalidArgument, "use GET /health"));
    Status ready = ctx_->check_ready();
    if (!ready.ok()) return respond_error(ex, ready);
    return ex.respond(200, "{\"status\":\"ok\"}");
  }

  enum class Route { kChat, kCompletions, kModels, kTokenize, kDetokenize, kNone };
  Route route = Route::kNone;
  bool want_post = true;
  if (path == "/v1/chat/completions") {
    route = Route::kChat;
  } else if (path == "/v1/completions") {
    route = Route::kCompletions;
  } else if (path == "/v1/models") {
    route = Route::kModels;
    want_post = false;
  } else if (path == "/tokenize" || path == "/v1/tokenize") {
    route = Route::kTokenize;
  } else if (path == "/detokenize" || path == "/v1/detokenize") {
    route = Route::kDetokenize;
  }
  if (route == Route::kNone) {
    ex.access().route = "unknown";
    return ex.respond(404, openai_error_body(404, "no route for " + std::string(path.substr(0, 200))));
  }
  if ((want_post && !post) || (!want_post && !get)) {
    return ex.respond(405, openai_error_body(405, std::string("use ") + (want_post ? "POST" : "GET") + " " +
                                                      std::string(path)));
  }
  auto auth = req.find(http::field::authorization);
  std::string_view auth_value =
      auth == req.end() ? std::string_view() : std::string_view(auth->value().data(), auth->value().size());
  std::optional<std::string> tenant = ctx_->api_keys().authenticate(auth_value);
  if (!tenant) {
    return respond_error(ex, Status(StatusCode::kUnauthenticated,
                                    auth == req.end() ? "missing API key: send 'Authorization: Bearer <key>'"
                                                      : "invalid API key"));
  }
  ex.access().tenant = *tenant;
  Status ready = ctx_->check_ready();
  if (!ready.ok()) return respond_error(ex, ready);
  if (route == Route::kModels) return handle_models(ex);

  StatusOr<Json> body = parse_json_body(req.body(), ctx_->limits().max_json_depth);
  if (!body.ok()) return respond_error(ex, body.status());
  switch (route) {
    case Route::kChat:
      return start_chat_completion(ctx_, exchange, *tenant, *body);
    case Route::kCompletions:
      return start_completion(ctx_, exchange, *tenant, *body);
    case Route::kTokenize:
      return handle_tokenize(ex, *body);
    case Route::kDetokenize:
      return handle_detokenize(ex, *body);
    default:
      return;
  }
}

void HttpRouter::handle_models(HttpExchange& ex) {
  Json model = {{"id", ctx_->model_name()},
                {"object", "model"},
                {"created", static_cast<std::int64_t>(std::time(nullptr))},
                {"owned_by", "pagoda"},
                {"root", ctx_->model_name()},
                {"parent", nullptr},
                {"max_model_len", ctx_->engine().max_model_len()}};
  Json body = {{"object", "list"}, {"data", Json::array({model})}};
  ex.respond(200, body.dump());
}

void HttpRouter::handle_tokenize(HttpExchange& ex, const Json& body) {
  Status s = [&]() -> Status {
    std::vector<std::int32_t> ids;
    if (body.contains("messages")) {
      ChatPromptInput in;
      in.messages = body["messages"];
      if (body.contains("tools")) in.tools = body["tools"];
      if (body.contains("chat_template_kwargs")) {
        const Json& kw = body["chat_template_kwargs"];
        if (!kw.is_object()) return invalid_argument("chat_template_kwargs: must be an object");
        if (kw.contains("enable_thinking")) {
          if (!kw["enable_thinking"].is_boolean())
            return invalid_argument("chat_template_kwargs.enable_thinking: must be a boolean");
          in.enable_thinking = kw["enable_thinking"].get<bool>();
        }
      }
      PAGODA_ASSIGN_OR_RETURN(Prompt p, build_chat_prompt(*ctx_, in));
      ids = std::move(p.ids);
    } else if (body.contains("prompt")) {
      if (!body["prompt"].is_string()) return invalid_argument("prompt: must be a string");
      const std::string& text = body["prompt"].get_ref<const std::string&>();
      PAGODA_RETURN_IF_ERROR(validate_text(text, "prompt", ctx_->limits().max_prompt_bytes));
      bool special = true;
      if (body.contains("add_special_tokens")) {
        if (!body["add_special_tokens"].is_boolean())
          return invalid_argument("add_special_tokens: must be a boolean");
      }
      ids = ctx_->tokenizer().encode(text, special);
    } else {
      return invalid_argument("prompt: required (or messages)");
    }
    Json out = {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", ctx_->engine().max_model_len()}};
    ex.access().prompt_tokens = static_cast<std::int64_t>(ids.size());
    ex.respond(200, out.dump());
    return ok_status();
  }();
  if (!s.ok()) respond_error(ex, s);
}

void HttpRouter::handle_detokenize(HttpExchange& ex, const Json& body) {
  Status s = [&]() -> Status {
    if (!body.contains("tokens") || !body["tokens"].is_array())
      return invalid_argument("tokens: must be an array of token ids");
    const Json& tokens = body["tokens"];
    if (static_cast<std::int64_t>(tokens.size()) > ctx_->limits().max_detokenize_ids)
      return invalid_argument("tokens: too many ids");
    std::int32_t vocab = ctx_->engine().model_config().vocab_size;
    std::vector<std::int32_t> ids;
    ids.reserve(tokens.size());
    for (const Json& t : tokens) {
      if (!t.is_number_integer() || t.get<std::int64_t>() < 0 || t.get<std::int64_t>() >= vocab) {
        return invalid_argument("tokens: every entry must be a token id in [0, " + std::to_string(vocab) +
                                ")");
      }
      ids.push_back(t.get<std::int32_t>());
    }
    Json out = {{"prompt", ctx_->tokenizer().decode(ids, false)}};
    ex.respond(200, out.dump(-1, ' ', false, Json::error_handler_t::replace));
    return ok_status();
  }();
  if (!s.ok()) respond_error(ex, s);
}

}  // namespace pagoda::server
