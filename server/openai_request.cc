#include "server/openai_request.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "server/request_validation.h"

namespace pagoda::server {

using Json = nlohmann::ordered_json;

namespace {

bool present(const Json& body, const char* field) {
  auto it = body.find(field);
  return it != body.end() && !it->is_null();
}

Status type_error(const char* field, const char* what) {
  return invalid_argument(std::string(field) + ": must be " + what);
}

Status to_int32(std::int64_t v, const char* field, std::int32_t* out) {
  if (v < INT32_MIN || v > INT32_MAX) return invalid_argument(std::string(field) + ": out of range");
  *out = static_cast<std::int32_t>(v);
  return ok_status();
}

}  // namespace

Status get_bool(const Json& body, const char* field, bool* out) {
  if (!present(body, field)) return ok_status();
  const Json& v = body[field];
  if (!v.is_boolean()) return type_error(field, "a boolean");
  *out = v.get<bool>();
  return ok_status();
}

Status get_int(const Json& body, const char* field, std::int64_t* out) {
  if (!present(body, field)) return ok_status();
  const Json& v = body[field];
  if (v.is_number_integer()) {
    *out = v.get<std::int64_t>();
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      return invalid_argument(std::string(field) + ": out of range");
    }
    return ok_status();
  }
  if (v.is_number_float()) {  // 5.0 is accepted as 5, as Python clients send it
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
      *out = static_cast<std::int64_t>(d);
      return ok_status();
    }
  }
  return type_error(field, "an integer");
}

Status get_optional_int(const Json& body, const char* field, std::optional<std::int64_t>* out) {
  if (!present(body, field)) return ok_status();
  std::int64_t v = 0;
  PAGODA_RETURN_IF_ERROR(get_int(body, field, &v));
  *out = v;
  return ok_status();
}

Status get_double(const Json& body, const char* field, double* out) {
  if (!present(body, field)) return ok_status();
  const Json& v = body[field];
  if (!v.is_number()) return type_error(field, "a number");
  *out = v.get<double>();
  if (!std::isfinite(*out)) return type_error(field, "a finite number");
  return ok_status();
}

StatusOr<OpenAiParams> parse_openai_params(const Json& body, const ServingContext& ctx, bool chat) {
  const RequestLimits& limits = ctx.limits();
  OpenAiParams p;
  SamplingParams& s = p.sampling;
  s = default_sampling(ctx.engine().model_config());

  PAGODA_RETURN_IF_ERROR(get_double(body, "temperature", &s.temperature));
  PAGODA_RETURN_IF_ERROR(get_double(body, "top_p", &s.top_p));
  std::int64_t top_k = s.top_k;
  PAGODA_RETURN_IF_ERROR(get_int(body, "top_k", &top_k));
  PAGODA_RETURN_IF_ERROR(to_int32(top_k, "top_k", &s.top_k));
  PAGODA_RETURN_IF_ERROR(get_double(body, "min_p", &s.min_p));
  PAGODA_RETURN_IF_ERROR(get_double(body, "presence_penalty", &s.presence_penalty));
  PAGODA_RETURN_IF_ERROR(get_double(body, "frequency_penalty", &s.frequency_penalty));
  PAGODA_RETURN_IF_ERROR(get_double(body, "repetition_penalty", &s.repetition_penalty));

  std::optional<std::int64_t> seed;
  PAGODA_RETURN_IF_ERROR(get_optional_int(body, "seed", &seed));
  if (seed) s.seed = static_cast<std::uint64_t>(*seed);

  PAGODA_RETURN_IF_ERROR(get_optional_int(body, "max_tokens", &p.max_tokens));
  std::optional<std::int64_t> max_completion;
  PAGODA_RETURN_IF_ERROR(get_optional_int(body, "max_completion_tokens", &max_completion));
  if (max_completion) p.max_tokens = max_completion;
  if (p.max_tokens && *p.max_tokens < 1) {
    return invalid_argument(std::string(max_completion ? "max_completion_tokens" : "max_tokens") +
                            ": must be at least 1");
  }

  std::int64_t min_tokens = 0;
  PAGODA_RETURN_IF_ERROR(get_int(body, "min_tokens", &min_tokens));
  if (min_tokens < 0) return invalid_argument("min_tokens: must not be negative");
  PAGODA_RETURN_IF_ERROR(to_int32(min_tokens, "min_tokens", &s.min_tokens));
  PAGODA_RETURN_IF_ERROR(get_bool(body, "ignore_eos", &s.ignore_eos));
  PAGODA_RETURN_IF_ERROR(get_bool(body, "skip_special_tokens", &s.skip_special_tokens));

  std::int64_t n = 1;
  PAGODA_RETURN_IF_ERROR(get_int(body, "n", &n));
  PAGODA_RETURN_IF_ERROR(validate_n(n, limits));
  p.n = static_cast<std::int32_t>(n);
  if (present(body, "best_of")) {
    std::int64_t best_of = 0;
    PAGODA_RETURN_IF_ERROR(get_int(body, "best_of", &best_of));
    if (best_of != n) return invalid_argument("best_of: only best_of == n is supported");
  }

  PAGODA_RETURN_IF_ERROR(get_bool(body, "stream", &p.stream));
  if (present(body, "stream_options")) {
    const Json& so = body["stream_options"];
    if (!so.is_object()) return type_error("stream_options", "an object");
    if (!p.stream) return invalid_argument("stream_options: only allowed when stream is true");
    PAGODA_RETURN_IF_ERROR(get_bool(so, "include_usage", &p.include_usage));
  }

  if (present(body, "stop")) {
    const Json& stop = body["stop"];
    if (stop.is_string()) {
      s.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array()) {
      if (static_cast<std::int64_t>(stop.size()) > limits.max_stop_strings) {
        return invalid_argument("stop: at most " + std::to_string(limits.max_stop_strings) + " stop strings");
      }
      for (const Json& item : stop) {
        if (!item.is_string()) return type_error("stop", "a string or an array of strings");
        s.stop.push_back(item.get<std::string>());
      }
    } else {
      return type_error("stop", "a string or an array of strings");
    }
  }
  if (present(body, "stop_token_ids")) {
    const Json& ids = body["stop_token_ids"];
    if (!ids.is_array()) return type_error("stop_token_ids", "an array of token ids");
    if (static_cast<std::int64_t>(ids.size()) > limits.max_stop_token_ids) {
      return invalid_argument("stop_token_ids: at most " + std::to_string(limits.max_stop_token_ids) +
                              " ids");
    }
    for (const Json& id : ids) {
      if (!id.is_number_integer()) return type_error("stop_token_ids", "an array of token ids");
      std::int64_t v = id.get<std::int64_t>();
      if (v < 0 || v > INT32_MAX)
        return invalid_argument("stop_token_ids: " + std::to_string(v) + " is not a token id");
      s.stop_token_ids.push_back(static_cast<std::int32_t>(v));
    }
  }
  if (present(body, "logit_bias")) {
    const Json& bias = body["logit_bias"];
    if (!bias.is_object()) return type_error("logit_bias", "an object mapping token ids to biases");
    if (static_cast<std::int64_t>(bias.size()) > limits.max_logit_bias) {
      return invalid_argument("logit_bias: at most " + std::to_string(limits.max_logit_bias) + " entries");
    }
    for (const auto& [key, value] : bias.items()) {
      char* end = nullptr;
      long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || end == nullptr || *end != '\0' || id < 0 || id > INT32_MAX) {
        return invalid_argument("logit_bias: key \"" + key.substr(0, 32) + "\" is not a token id");
      }
      if (!value.is_number()) return invalid_argument("logit_bias: values must be numbers");
      s.logit_bias.emplace_back(static_cast<std::int32_t>(id), value.get<float>());
    }
    std::sort(s.logit_bias.begin(), s.logit_bias.end());
  }

  if (chat) {
    PAGODA_RETURN_IF_ERROR(get_bool(body, "logprobs", &p.logprobs));
    std::int64_t top = 0;
    PAGODA_RETURN_IF_ERROR(get_int(body, "top_logprobs", &top));
    if (top < 0 || top > SamplingParams::kMaxTopLogprobs)
      return invalid_argument("top_logprobs: must be in [0, 20]");
    if (top > 0 && !p.logprobs) return invalid_argument("top_logprobs: requires logprobs to be true");
    p.top_logprobs = static_cast<std::int32_t>(top);
  } else if (present(body, "logprobs")) {
    std::int64_t lp = 0;
    PAGODA_RETURN_IF_ERROR(get_int(body, "logprobs", &lp));
    if (lp < 0 || lp > SamplingParams::kMaxTopLogprobs)
      return invalid_argument("logprobs: must be in [0, 20]");
    p.logprobs = true;
    p.top_logprobs = static_cast<std::int32_t>(lp);
  }
  if (p.logprobs) s.logprobs = p.top_logprobs;

  std::int64_t priority = 0;
  PAGODA_RETURN_IF_ERROR(get_int(body, "priority", &priority));
  PAGODA_RETURN_IF_ERROR(to_int32(priority, "priority", &p.priority));

  if (present(body, "response_format")) {
    const Json& rf = body["response_format"];
    if (!rf.is_object() || !rf.contains("type") || rf["type"] != "text") {
      return invalid_argument("response_format: only {\"type\": \"text\"} is supported");
    }
  }
  if (present(body, "user")) {
    if (!body["user"].is_string()) return type_error("user", "a string");
  }
  return p;
}

}  // namespace pagoda::server
