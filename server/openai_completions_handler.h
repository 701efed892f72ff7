// POST /v1/completions: OpenAI's (legacy) completions API on the engine —
// a prompt as text or token ids, or a batch of them, streaming or not. Runs on
// the HTTP session's strand.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http_exchange.h"
#include "server/serving_context.h"

namespace pagoda::server {

void start_completion(ServingContext* ctx, const std::shared_ptr<HttpExchange>& exchange,
                      const std::string& tenant, const nlohmann::ordered_json& body);

}  // namespace pagoda::server
