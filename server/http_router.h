// HttpRouter: maps an HTTP request to its handler — health, the OpenAI routes
// (/v1/chat/completions, /v1/completions, /v1/models), /tokenize and
// /detokenize — after authentication, method, readiness and body checks
// (route_request in http_request.h). Stateless; called on the session's
// strand (any io_context thread).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http_exchange.h"
#include "server/http_request.h"
#include "server/serving_context.h"

namespace pagoda::server {

class HttpRouter {
 public:
  explicit HttpRouter(ServingContext* ctx) : ctx_(ctx) {}
  void handle(const std::shared_ptr<HttpExchange>& exchange);

 private:
  void dispatch(const std::shared_ptr<HttpExchange>& exchange);
  void handle_models(HttpExchange& ex);

  ServingContext* ctx_;
};

// Sends an error in OpenAI's shape for `status`.
void respond_error(HttpExchange& ex, const Status& status);

}  // namespace pagoda::server
