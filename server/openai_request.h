// Parsing of the request fields the OpenAI chat and completions APIs share
// (sampling, n, stream, stop, logprobs, vLLM's extensions), with type and range
// checks whose messages name the field. Pure functions over the parsed body.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "scheduler/sampling_params.h"
#include "server/serving_context.h"

namespace pagoda::server {

struct OpenAiParams {
  SamplingParams sampling;                 // max_tokens not yet resolved
  std::optional<std::int64_t> max_tokens;  // max_completion_tokens or max_tokens
  std::int32_t n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // chat: logprobs; completions: logprobs != null
  std::int32_t top_logprobs = 0;
  std::int32_t priority = 0;
};

// `chat` selects the chat spelling of logprobs (bool + top_logprobs) over the
// completions one (an integer).
StatusOr<OpenAiParams> parse_openai_params(const nlohmann::ordered_json& body, const ServingContext& ctx,
                                           bool chat);

// Typed field access: absent or null leaves `out` unchanged; a wrong type is INVALID_ARGUMENT.
Status get_bool(const nlohmann::ordered_json& body, const char* field, bool* out);
Status get_int(const nlohmann::ordered_json& body, const char* field, std::int64_t* out);
Status get_optional_int(const nlohmann::ordered_json& body, const char* field,
                        std::optional<std::int64_t>* out);
Status get_double(const nlohmann::ordered_json& body, const char* field, double* out);

}  // namespace pagoda::server
