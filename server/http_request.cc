#include "server/http_request.h"

#include <vector>

#include "server/http_errors.h"
#include "server/prompt_builder.h"
#include "server/request_validation.h"

namespace pagoda::server {

namespace http = boost::beast::http;
using Json = nlohmann::ordered_json;

void apply_request_limits(HttpRequestParser& parser, const RequestLimits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
}

HttpReply read_error_reply(boost::beast::error_code ec, const RequestLimits& limits) {
  HttpReply r;
  if (ec == http::error::body_limit) {
    r.status = 413;
    r.error =
        "the request body is larger than the limit of " + std::to_string(limits.max_body_bytes) + " bytes";
  } else if (ec == http::error::header_limit) {
    r.status = 431;
    r.error = "the request headers are larger than the limit of " + std::to_string(limits.max_header_bytes) +
              " bytes";
  } else {
    r.status = 400;
    r.error = "malformed HTTP request: " + ec.message();
  }
  r.body = openai_error_body(r.status, r.error);
  return r;
}

HttpReply error_reply(const Status& status) {
  HttpReply r;
  r.status = http_status_of(status.code());
  r.error = status.message();
  r.body = openai_error_body(r.status, status.message(), param_of(status));
  return r;
}

StatusOr<Json> parse_json_body(std::string_view body, int max_depth) {
  if (body.empty()) return invalid_argument("the request body is empty; expected a JSON object");
  if (!validate_json_depth(body, "body", max_depth).ok()) {
    return invalid_argument("the request body nests deeper than " + std::to_string(max_depth) + " levels");
  }
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument("the request body is not valid JSON");
  if (!j.is_object()) return invalid_argument("the request body must be a JSON object");
  return j;
}

RoutedRequest route_request(const HttpRequest& req, const ServingContext& ctx) {
  RoutedRequest r;
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  r.access_route = std::string(path.substr(0, 64));
  bool get = req.method() == http::verb::get;
  bool post = req.method() == http::verb::post;

  if (path == "/health" || path == "/v1/health") {
    if (!get) {
      r.reply = error_reply(Status(StatusCode::kInvalidArgument, "use GET /health"));
    } else if (Status ready = ctx.check_ready(); !ready.ok()) {
      r.reply = error_reply(ready);
    } else {
      r.reply = HttpReply{200, "{\"status\":\"ok\"}", ""};
    }
    return r;
  }

  bool want_post = true;
  if (path == "/v1/chat/completions") {
    r.route = HttpRoute::kChat;
  } else if (path == "/v1/completions") {
    r.route = HttpRoute::kCompletions;
  } else if (path == "/v1/models") {
    r.route = HttpRoute::kModels;
    want_post = false;
  } else if (path == "/tokenize" || path == "/v1/tokenize") {
    r.route = HttpRoute::kTokenize;
  } else if (path == "/detokenize" || path == "/v1/detokenize") {
    r.route = HttpRoute::kDetokenize;
  }
  if (r.route == HttpRoute::kNone) {
    r.access_route = "unknown";
    r.reply = HttpReply{404, openai_error_body(404, "no route for " + std::string(path.substr(0, 200))), ""};
    return r;
  }
  if ((want_post && !post) || (!want_post && !get)) {
    std::string message = want_post ? "use POST " : "use GET ";
    message += path;
    r.reply = HttpReply{405, openai_error_body(405, message), ""};
    return r;
  }
  auto auth = req.find(http::field::authorization);
  std::string_view auth_value =
      auth == req.end() ? std::string_view() : std::string_view(auth->value().data(), auth->value().size());
  std::optional<std::string> tenant = ctx.api_keys().authenticate(auth_value);
  if (!tenant) {
    r.reply = error_reply(Status(
        StatusCode::kUnauthenticated,
        auth == req.end() ? "missing API key: send 'Authorization: Bearer <key>'" : "invalid API key"));
    return r;
  }
  r.tenant = std::move(*tenant);
  if (Status ready = ctx.check_ready(); !ready.ok()) {
    r.reply = error_reply(ready);
    return r;
  }
  if (r.route == HttpRoute::kModels) return r;

  StatusOr<Json> body = parse_json_body(req.body(), ctx.limits().max_json_depth);
  if (!body.ok()) {
    r.reply = error_reply(body.status());
    return r;
  }
  r.body = std::move(body).value();
  return r;
}

StatusOr<Json> tokenize_json(const Json& body, const ServingContext& ctx) {
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
    PAGODA_ASSIGN_OR_RETURN(Prompt p, build_chat_prompt(ctx, in));
    ids = std::move(p.ids);
  } else if (body.contains("prompt")) {
    if (!body["prompt"].is_string()) return invalid_argument("prompt: must be a string");
    const std::string& text = body["prompt"].get_ref<const std::string&>();
    PAGODA_RETURN_IF_ERROR(validate_text(text, "prompt", ctx.limits().max_prompt_bytes));
    bool special = true;
    if (body.contains("add_special_tokens")) {
      if (!body["add_special_tokens"].is_boolean())
        return invalid_argument("add_special_tokens: must be a boolean");
    }
    ids = ctx.tokenizer().encode(text, special);
  } else {
    return invalid_argument("prompt: required (or messages)");
  }
  return Json{{"tokens", ids}, {"count", ids.size()}, {"max_model_len", ctx.engine().max_model_len()}};
}

StatusOr<Json> detokenize_json(const Json& body, const ServingContext& ctx) {
  if (!body.contains("tokens") || !body["tokens"].is_array())
    return invalid_argument("tokens: must be an array of token ids");
  const Json& tokens = body["tokens"];
  if (static_cast<std::int64_t>(tokens.size()) > ctx.limits().max_detokenize_ids)
    return invalid_argument("tokens: too many ids");
  std::int32_t vocab = ctx.engine().model_config().vocab_size;
  std::vector<std::int32_t> ids;
  ids.reserve(tokens.size());
  for (const Json& t : tokens) {
    if (!t.is_number_integer() || t.get<std::int64_t>() < 0 || t.get<std::int64_t>() >= vocab) {
      return invalid_argument("tokens: every entry must be a token id in [0, " + std::to_string(vocab) + ")");
    }
    ids.push_back(t.get<std::int32_t>());
  }
  return Json{{"prompt", ctx.tokenizer().decode(ids, false)}};
}

}  // namespace pagoda::server
