#include "scheduler/sampling_params.h"

#include <cmath>

namespace pagoda {

Status SamplingParams::validate(std::int32_t vocab_size) const {
  auto bad = [](const char* field, const std::string& what) {
    return invalid_argument(std::string(field) + ": " + what);
  };
  if (!std::isfinite(temperature) || temperature < 0.0 || temperature > 100.0) {
    return bad("temperature", "must be in [0, 100]");
  }
  if (top_k < -1) return bad("top_k", "must be -1, 0 (off) or positive");
  if (!(top_p > 0.0 && top_p <= 1.0)) return bad("top_p", "must be in (0, 1]");
  if (!(min_p >= 0.0 && min_p <= 1.0)) return bad("min_p", "must be in [0, 1]");
  if (!(repetition_penalty > 0.0 && repetition_penalty <= 10.0)) {
    return bad("repetition_penalty", "must be in (0, 10]");
  }
  if (!(presence_penalty >= -2.0 && presence_penalty <= 2.0))
    return bad("presence_penalty", "must be in [-2, 2]");
  if (!(frequency_penalty >= -2.0 && frequency_penalty <= 2.0)) {
    return bad("frequency_penalty", "must be in [-2, 2]");
  }
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= vocab_size)
      return bad("logit_bias", "token id " + std::to_string(id) + " is not in the vocabulary");
    if (!std::isfinite(bias) || bias < -100.0f || bias > 100.0f)
      return bad("logit_bias", "bias must be in [-100, 100]");
  }
  if (max_tokens < 1) return bad("max_tokens", "must be at least 1");
  if (min_tokens < 0 || min_tokens > max_tokens) return bad("min_tokens", "must be in [0, max_tokens]");
  for (std::int32_t id : stop_token_ids) {
    if (id < 0 || id >= vocab_size)
      return bad("stop_token_ids", std::to_string(id) + " is not in the vocabulary");
  }
  for (const std::string& s : stop) {
    if (s.empty()) return bad("stop", "stop strings must not be empty");
  }
  if (logprobs < -1 || logprobs > kMaxTopLogprobs) return bad("logprobs", "must be in [0, 20]");
  return ok_status();
}

}  // namespace pagoda
