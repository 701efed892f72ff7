#include "server/openai_request.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "server/prompt_builder.h"
#include "server/request_validation.h"

namespace pagoda::server {

using Json = nlohmann::ordered_json;

namespace {

constexpr std::size_t kMaxPrompts = 64;  // prompts in one /v1/completions request

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
  s = ctx.engine().model_config().generation.sampling();

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
      // Plain decimal digits only: no sign, spaces or exponent (strtoll alone takes " +5").
      const bool digits = !key.empty() && key.size() <= 10 &&
                          std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
      const long long id = digits ? std::stoll(key) : -1;
      if (!digits || id > INT32_MAX) {
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

StatusOr<ChatCompletionRequest> parse_chat_completion_request(const Json& body, const ServingContext& ctx) {
  ChatCompletionRequest out;
  ChatPromptInput in;
  if (!body.contains("messages")) return invalid_argument("messages: required");
  in.messages = body["messages"];
  if (!in.messages.is_array() || in.messages.empty())
    return invalid_argument("messages: must be a non-empty array");
  for (const Json& m : in.messages) {
    if (!m.is_object()) return invalid_argument("messages: every message must be an object");
    if (!m.contains("role") || !m["role"].is_string())
      return invalid_argument("messages: every message needs a string role");
    PAGODA_RETURN_IF_ERROR(validate_chat_role(m["role"].get_ref<const std::string&>(), "messages"));
    if (m.contains("content")) {
      const Json& c = m["content"];
      if (!c.is_null() && !c.is_string() && !c.is_array()) {
        return invalid_argument("messages: content must be a string, null or an array of parts");
      }
    }
  }
  std::string tool_choice = "auto";
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const Json& tc = body["tool_choice"];
    if (!tc.is_string()) return invalid_argument("tool_choice: only \"auto\" and \"none\" are supported");
    tool_choice = tc.get<std::string>();
    if (tool_choice != "auto" && tool_choice != "none") {
      return invalid_argument("tool_choice: only \"auto\" and \"none\" are supported");
    }
  }
  if (body.contains("tools") && !body["tools"].is_null()) {
    const Json& tools = body["tools"];
    if (!tools.is_array()) return invalid_argument("tools: must be an array");
    for (const Json& t : tools) {
      if (!t.is_object() || !t.contains("type") || t["type"] != "function" || !t.contains("function") ||
          !t["function"].is_object() || !t["function"].contains("name") ||
          !t["function"]["name"].is_string()) {
        return invalid_argument(
            "tools: each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
      }
    }
    if (tool_choice != "none" && !tools.empty()) {
      in.tools = tools;
      out.parse_tools = true;
    }
  }
  if (body.contains("chat_template_kwargs") && !body["chat_template_kwargs"].is_null()) {
    const Json& kw = body["chat_template_kwargs"];
    if (!kw.is_object()) return invalid_argument("chat_template_kwargs: must be an object");
    for (const auto& [key, value] : kw.items()) {
      if (key == "enable_thinking") {
        if (!value.is_boolean())
          return invalid_argument("chat_template_kwargs.enable_thinking: must be a boolean");
        in.enable_thinking = value.get<bool>();
      } else if (key == "messages" || key == "tools" || key == "documents" ||
                 key == "add_generation_prompt") {
        return invalid_argument("chat_template_kwargs: may not set \"" + key + "\"");
      } else {
        in.extra_kwargs[key] = value;
      }
    }
  }
  PAGODA_ASSIGN_OR_RETURN(Prompt prompt, build_chat_prompt(ctx, in));
  out.starts_in_reasoning = prompt.starts_in_reasoning;

  PAGODA_ASSIGN_OR_RETURN(out.params, parse_openai_params(body, ctx, /*chat=*/true));
  OpenAiParams& p = out.params;
  PAGODA_ASSIGN_OR_RETURN(p.sampling.max_tokens,
                          resolve_max_tokens(p.max_tokens, static_cast<std::int32_t>(prompt.ids.size()),
                                             ctx.engine().max_model_len()));
  PAGODA_RETURN_IF_ERROR(validate_sampling(p.sampling, ctx.limits(), ctx.engine().model_config().vocab_size));
  out.spec.prompt_ids = std::move(prompt.ids);
  out.spec.sampling = std::move(p.sampling);
  out.spec.n = p.n;
  out.spec.priority = p.priority;
  return out;
}

namespace {

StatusOr<std::vector<Prompt>> parse_prompts(const Json& body, const ServingContext& ctx) {
  if (!body.contains("prompt") || body["prompt"].is_null()) return invalid_argument("prompt: required");
  const Json& prompt = body["prompt"];
  std::vector<Prompt> out;
  auto ids_of = [&](const Json& list) -> StatusOr<Prompt> {
    std::vector<std::int32_t> ids;
    ids.reserve(list.size());
    for (const Json& id : list) {
      if (!id.is_number_integer()) return invalid_argument("prompt: token ids must be integers");
      std::int64_t v = id.get<std::int64_t>();
      if (v < 0 || v > INT32_MAX)
        return invalid_argument("prompt: token id " + std::to_string(v) + " is out of range");
      ids.push_back(static_cast<std::int32_t>(v));
    }
    return build_token_prompt(ctx, std::move(ids), "prompt");
  };
  if (prompt.is_string()) {
    PAGODA_ASSIGN_OR_RETURN(Prompt p, build_text_prompt(ctx, prompt.get_ref<const std::string&>(), "prompt"));
    out.push_back(std::move(p));
    return out;
  }
  if (!prompt.is_array() || prompt.empty()) {
    return invalid_argument(
        "prompt: must be a string, an array of strings, token ids, or arrays of token ids");
  }
  if (prompt[0].is_number()) {
    PAGODA_ASSIGN_OR_RETURN(Prompt p, ids_of(prompt));
    out.push_back(std::move(p));
    return out;
  }
  if (prompt.size() > kMaxPrompts)
    return invalid_argument("prompt: at most " + std::to_string(kMaxPrompts) + " prompts");
  for (const Json& item : prompt) {
    if (item.is_string()) {
      PAGODA_ASSIGN_OR_RETURN(Prompt p, build_text_prompt(ctx, item.get_ref<const std::string&>(), "prompt"));
      out.push_back(std::move(p));
    } else if (item.is_array()) {
      PAGODA_ASSIGN_OR_RETURN(Prompt p, ids_of(item));
      out.push_back(std::move(p));
    } else {
      return invalid_argument(
          "prompt: must be a string, an array of strings, token ids, or arrays of token ids");
    }
  }
  return out;
}

}  // namespace

StatusOr<CompletionRequest> parse_completion_request(const Json& body, const ServingContext& ctx) {
  bool echo = false;
  PAGODA_RETURN_IF_ERROR(get_bool(body, "echo", &echo));
  if (echo) return invalid_argument("echo: not supported");
  if (body.contains("suffix") && !body["suffix"].is_null()) return invalid_argument("suffix: not supported");
  PAGODA_ASSIGN_OR_RETURN(std::vector<Prompt> prompts, parse_prompts(body, ctx));
  CompletionRequest out;
  PAGODA_ASSIGN_OR_RETURN(out.params, parse_openai_params(body, ctx, /*chat=*/false));
  OpenAiParams& p = out.params;
  if (!p.max_tokens) p.max_tokens = 16;  // the completions API's default
  if (prompts.size() * static_cast<std::size_t>(p.n) > static_cast<std::size_t>(ctx.limits().max_n) * 4) {
    return invalid_argument("n: too many choices for this many prompts");
  }
  for (Prompt& prompt : prompts) {
    GenerationSpec spec;
    spec.sampling = p.sampling;
    PAGODA_ASSIGN_OR_RETURN(spec.sampling.max_tokens,
                            resolve_max_tokens(p.max_tokens, static_cast<std::int32_t>(prompt.ids.size()),
                                               ctx.engine().max_model_len()));
    PAGODA_RETURN_IF_ERROR(
        validate_sampling(spec.sampling, ctx.limits(), ctx.engine().model_config().vocab_size));
    spec.prompt_ids = std::move(prompt.ids);
    spec.n = p.n;
    spec.priority = p.priority;
    out.specs.push_back(std::move(spec));
  }
  return out;
}

}  // namespace pagoda::server
