// POST /v1/chat/completions: OpenAI's chat API on the engine — messages and
// tools rendered with the model's chat template, Qwen 3 reasoning split into
// reasoning_content, tool calls parsed from the output, streaming or not.
// Runs on the HTTP session's strand.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http_exchange.h"
#include "server/serving_context.h"

namespace pagoda::server {

void start_chat_completion(ServingContext* ctx, const std::shared_ptr<HttpExchange>& exchange,
                           const std::string& tenant, const nlohmann::ordered_json& body);

}  // namespace pagoda::server
