#include "server/http_router.h"

#include <ctime>
#include <exception>

#include <spdlog/spdlog.h>

#include "server/http_request.h"
#include "server/openai_chat_handler.h"
#include "server/openai_completions_handler.h"

namespace pagoda::server {

using Json = nlohmann::ordered_json;

void respond_error(HttpExchange& ex, const Status& status) {
  HttpReply reply = error_reply(status);
  ex.access().error = std::move(reply.error);
  ex.respond(reply.status, std::move(reply.body));
}

void HttpRouter::handle(const std::shared_ptr<HttpExchange>& exchange) {
  // Request parsing reports bad input as a Status; an exception here is our bug
  // (e.g. a JSON accessor that throws on an unexpected type). It fails this one
  // request with a 500 instead of escaping into the io_context and the process.
  try {
    dispatch(exchange);
  } catch (const std::exception& e) {
    spdlog::error("http: {} failed with an internal error: {}", exchange->access().route, e.what());
    if (exchange->access().http_status == 0)  // nothing sent yet
      respond_error(*exchange, internal_error(std::string("internal error: ") + e.what()));
  }
}

void HttpRouter::dispatch(const std::shared_ptr<HttpExchange>& exchange) {
  HttpExchange& ex = *exchange;
  RoutedRequest r = route_request(ex.request(), *ctx_);
  ex.access().route = std::move(r.access_route);
  if (!r.tenant.empty()) ex.access().tenant = r.tenant;
  if (r.reply) {
    if (!r.reply->error.empty()) ex.access().error = std::move(r.reply->error);
    return ex.respond(r.reply->status, std::move(r.reply->body));
  }
  switch (r.route) {
    case HttpRoute::kChat:
      return start_chat_completion(ctx_, exchange, r.tenant, r.body);
    case HttpRoute::kCompletions:
      return start_completion(ctx_, exchange, r.tenant, r.body);
    case HttpRoute::kModels:
      return handle_models(ex);
    case HttpRoute::kTokenize: {
      StatusOr<Json> out = tokenize_json(r.body, *ctx_);
      if (!out.ok()) return respond_error(ex, out.status());
      ex.access().prompt_tokens = (*out)["count"].get<std::int64_t>();
      return ex.respond(200, out->dump());
    }
    case HttpRoute::kDetokenize: {
      StatusOr<Json> out = detokenize_json(r.body, *ctx_);
      if (!out.ok()) return respond_error(ex, out.status());
      return ex.respond(200, out->dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    case HttpRoute::kNone:
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

}  // namespace pagoda::server
