// Parsing of OpenAI chat and completions request bodies into what the engine
// takes: the fields both APIs share (sampling, n, stream, stop, logprobs,
// vLLM's extensions) and each endpoint's whole body (messages or prompts ->
// token ids, limits, max_tokens against the context), with type and range
// checks whose messages name the field. Pure functions over the parsed body
// (they read the tokenizer, template and limits of the context; nothing is
// submitted), used by the HTTP handlers and the request fuzzers.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "scheduler/sampling_params.h"
#include "server/generation.h"
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

// A validated POST /v1/chat/completions body. spec.tenant is left empty and
// params.sampling is moved into spec.sampling (max_tokens resolved).
struct ChatCompletionRequest {
  GenerationSpec spec;
  OpenAiParams params;
  bool parse_tools = false;          // tools given and tool_choice is not "none"
  bool starts_in_reasoning = false;  // the rendered prompt ends inside <think>
};
StatusOr<ChatCompletionRequest> parse_chat_completion_request(const nlohmann::ordered_json& body,
                                                              const ServingContext& ctx);

// A validated POST /v1/completions body: one GenerationSpec per prompt (each
// with params.n choices, tenant empty, max_tokens resolved per prompt).
struct CompletionRequest {
  std::vector<GenerationSpec> specs;
  OpenAiParams params;
};
StatusOr<CompletionRequest> parse_completion_request(const nlohmann::ordered_json& body,
                                                     const ServingContext& ctx);

// Typed field access: absent or null leaves `out` unchanged; a wrong type is INVALID_ARGUMENT.
Status get_bool(const nlohmann::ordered_json& body, const char* field, bool* out);
Status get_int(const nlohmann::ordered_json& body, const char* field, std::int64_t* out);
Status get_optional_int(const nlohmann::ordered_json& body, const char* field,
                        std::optional<std::int64_t>* out);
Status get_double(const nlohmann::ordered_json& body, const char* field, double* out);

}  // namespace pagoda::server
