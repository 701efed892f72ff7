// Request validation shared by the gRPC and HTTP front ends: field ranges,
// size limits, UTF-8, and the prompt + max_tokens <= max_model_len rule. Pure
// functions; errors are INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for size caps)
// whose message names the field as the OpenAI API spells it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/status.h"
#include "engine/model/model_config.h"
#include "scheduler/sampling_params.h"
#include "server/serve_options.h"

namespace pagoda::server {

// Valid UTF-8 of at most max_bytes.
Status validate_text(std::string_view text, std::string_view field, std::int64_t max_bytes);

// SamplingParams::validate plus the server's limits (stop strings, logit_bias size).
Status validate_sampling(const SamplingParams& sampling, const RequestLimits& limits,
                         std::int32_t vocab_size);

Status validate_n(std::int64_t n, const RequestLimits& limits);

// JSON text from a client nests at most max_depth arrays/objects (counted
// outside strings, before any parser recurses: copying or printing a deeper
// document overflows the stack). INVALID_ARGUMENT naming `field` otherwise.
Status validate_json_depth(std::string_view json_text, std::string_view field, int max_depth);

// A chat message role both front ends accept: system, developer, user, assistant or tool.
Status validate_chat_role(std::string_view role, std::string_view field);

// max_tokens when given (checked against the context), else all the room left.
StatusOr<std::int32_t> resolve_max_tokens(std::optional<std::int64_t> requested, std::int32_t prompt_tokens,
                                          std::int32_t max_model_len);

}  // namespace pagoda::server
