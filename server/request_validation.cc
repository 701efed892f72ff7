#include "server/request_validation.h"

#include <string>

#include "base/strings.h"

namespace pagoda::server {

Status validate_text(std::string_view text, std::string_view field, std::int64_t max_bytes) {
  if (static_cast<std::int64_t>(text.size()) > max_bytes) {
    return invalid_argument(std::string(field) + ": longer than the limit of " + std::to_string(max_bytes) +
                            " bytes");
  }
  if (!is_valid_utf8(text)) return invalid_argument(std::string(field) + ": not valid UTF-8");
  return ok_status();
}

Status validate_sampling(const SamplingParams& s, const RequestLimits& limits, std::int32_t vocab_size) {
  if (static_cast<std::int64_t>(s.stop.size()) > limits.max_stop_strings) {
    return invalid_argument("stop: at most " + std::to_string(limits.max_stop_strings) + " stop strings");
  }
  for (const std::string& stop : s.stop) {
    if (static_cast<std::int64_t>(stop.size()) > limits.max_stop_string_bytes) {
      return invalid_argument("stop: each stop string is at most " +
                              std::to_string(limits.max_stop_string_bytes) + " bytes");
    }
    if (!is_valid_utf8(stop)) return invalid_argument("stop: not valid UTF-8");
  }
  if (static_cast<std::int64_t>(s.stop_token_ids.size()) > limits.max_stop_token_ids) {
    return invalid_argument("stop_token_ids: at most " + std::to_string(limits.max_stop_token_ids) + " ids");
  }
  if (static_cast<std::int64_t>(s.logit_bias.size()) > limits.max_logit_bias) {
    return invalid_argument("logit_bias: at most " + std::to_string(limits.max_logit_bias) + " entries");
  }
  return s.validate(vocab_size);
}

Status validate_n(std::int64_t n, const RequestLimits& limits) {
  if (n < 1 || n > limits.max_n) {
    return invalid_argument("n: must be in [1, " + std::to_string(limits.max_n) + "]");
  }
  return ok_status();
}

Status validate_json_depth(std::string_view json_text, std::string_view field, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : json_text) {
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
        return invalid_argument(std::string(field) + ": nests deeper than " + std::to_string(max_depth) +
                                " levels");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return ok_status();
}

StatusOr<std::int32_t> resolve_max_tokens(std::optional<std::int64_t> requested, std::int32_t prompt_tokens,
                                          std::int32_t max_model_len) {
  if (prompt_tokens >= max_model_len) {
    return invalid_argument("This model's maximum context length is " + std::to_string(max_model_len) +
                            " tokens. However, your prompt has " + std::to_string(prompt_tokens) +
                            " tokens, leaving no room for output. Please shorten the prompt.");
  }
  if (!requested) return max_model_len - prompt_tokens;
  if (*requested < 1) return invalid_argument("max_tokens: must be at least 1");
  if (*requested > max_model_len - prompt_tokens) {
    return invalid_argument("This model's maximum context length is " + std::to_string(max_model_len) +
                            " tokens. However, you requested " + std::to_string(*requested + prompt_tokens) +
                            " tokens (" + std::to_string(prompt_tokens) + " in the prompt, " +
                            std::to_string(*requested) +
                            " in the completion). Please reduce the prompt or max_tokens.");
  }
  return static_cast<std::int32_t>(*requested);
}

Status validate_chat_role(std::string_view role, std::string_view field) {
  for (std::string_view known : {"system", "developer", "user", "assistant", "tool"})
    if (role == known) return ok_status();
  std::string message(field);
  message.append(": unknown role \"").append(role.substr(0, 32)).append("\"");
  return invalid_argument(std::move(message));
}

}  // namespace pagoda::server
