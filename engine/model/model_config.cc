#include "engine/model/model_config.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "base/mapped_file.h"

namespace pagoda {

SamplingParams GenerationDefaults::sampling() const {
  SamplingParams s;
  if (temperature) s.temperature = *temperature;
  if (top_p) s.top_p = *top_p;
  if (top_k) s.top_k = *top_k;
  if (min_p) s.min_p = *min_p;
  if (repetition_penalty) s.repetition_penalty = *repetition_penalty;
  return s;
}
namespace {

using Json = nlohmann::json;

constexpr std::int64_t kMaxDimension = 1 << 20;  // no real model comes near; guards overflow

// Reads typed fields from one JSON object; every error names the file and field.
class FieldReader {
 public:
  FieldReader(const Json& obj, std::string source) : obj_(obj), source_(std::move(source)) {}

  Status error(std::string_view field, std::string_view what) const {
    return invalid_argument(source_ + ": field '" + std::string(field) + "': " + std::string(what));
  }
  bool has(std::string_view field) const {
    auto it = obj_.find(field);
    return it != obj_.end() && !it->is_null();
  }

  StatusOr<std::int64_t> integer(std::string_view field, std::optional<std::int64_t> fallback,
                                 std::int64_t min, std::int64_t max) const {
    if (!has(field)) {
      if (fallback) return *fallback;
      return error(field, "missing (required)");
    }
    const Json& v = obj_.at(field);
    if (!v.is_number_integer()) return error(field, "expected an integer, got " + v.dump());
    std::int64_t x = v.get<std::int64_t>();
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
      return error(field, "out of range: " + v.dump());
    }
    if (x < min || x > max) {
      return error(field, "out of range: " + std::to_string(x) + " (allowed " + std::to_string(min) + ".." +
                              std::to_string(max) + ")");
    }
    return x;
  }

  StatusOr<double> number(std::string_view field, std::optional<double> fallback) const {
    if (!has(field)) {
      if (fallback) return *fallback;
      return error(field, "missing (required)");
    }
    const Json& v = obj_.at(field);
    if (!v.is_number()) return error(field, "expected a number, got " + v.dump());
    double x = v.get<double>();
    if (!std::isfinite(x)) return error(field, "not finite");
    return x;
  }

  StatusOr<bool> boolean(std::string_view field, bool fallback) const {
    if (!has(field)) return fallback;
    const Json& v = obj_.at(field);
    if (!v.is_boolean()) return error(field, "expected true or false, got " + v.dump());
    return v.get<bool>();
  }

  StatusOr<std::string> string(std::string_view field, std::optional<std::string> fallback) const {
    if (!has(field)) {
      if (fallback) return *fallback;
      return error(field, "missing (required)");
    }
    const Json& v = obj_.at(field);
    if (!v.is_string()) return error(field, "expected a string, got " + v.dump());
    return v.get<std::string>();
  }

  // An integer or a list of integers (eos_token_id).
  StatusOr<std::vector<std::int32_t>> id_list(std::string_view field) const {
    std::vector<std::int32_t> out;
    if (!has(field)) return out;
    const Json& v = obj_.at(field);
    auto one = [&](const Json& x) -> Status {
      if (!x.is_number_integer() || x.get<std::int64_t>() < 0 ||
          x.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
        return error(field, "expected token ids (non-negative integers), got " + v.dump());
      }
      out.push_back(x.get<std::int32_t>());
      return ok_status();
    };
    if (v.is_array()) {
      for (const Json& x : v)
        PAGODA_RETURN_IF_ERROR(one(x));
    } else {
      PAGODA_RETURN_IF_ERROR(one(v));
    }
    return out;
  }

  const std::string& source() const { return source_; }

 private:
  const Json& obj_;
  std::string source_;
};

StatusOr<Json> parse_json_object(const std::string& text, const std::string& source) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument(source + ": not valid JSON");
  if (!j.is_object()) return invalid_argument(source + ": expected a JSON object at the top level");
  return j;
}

Status check_architecture(const Json& j, const std::string& source, std::string& architecture) {
  std::string model_type;
  if (auto it = j.find("model_type"); it != j.end() && it->is_string()) model_type = it->get<std::string>();
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    architecture = j["architectures"][0].get<std::string>();
  } else if (model_type == "qwen3") {
    architecture = "Qwen3ForCausalLM";
  } else {
    return invalid_argument(source + ": field 'architectures': missing; expected [\"Qwen3ForCausalLM\"]");
  }
  if (architecture == "Qwen3ForCausalLM") return ok_status();
  if (architecture == "Qwen3MoeForCausalLM") {
    return unimplemented(
        source +
        ": architecture Qwen3MoeForCausalLM (Qwen 3 mixture-of-experts) is not supported yet; "
        "this build serves dense Qwen3ForCausalLM checkpoints");
  }
  return unimplemented(source + ": architecture " + architecture +
                       " is not supported; Pagoda serves Qwen3ForCausalLM checkpoints");
}

// rope_scaling (transformers 4.x) or rope_parameters (5.x), which also may carry rope_theta.
Status parse_rope(const Json& j, const FieldReader& top, ModelConfig& c) {
  const char* field =
      j.contains("rope_parameters") && !j["rope_parameters"].is_null() ? "rope_parameters" : "rope_scaling";
  PAGODA_ASSIGN_OR_RETURN(c.rope_theta, top.number("rope_theta", 10000.0));
  if (!j.contains(field) || j[field].is_null()) return ok_status();
  const Json& r = j[field];
  if (!r.is_object()) return top.error(field, "expected an object or null");
  FieldReader rr(r, top.source() + ": " + field);
  if (rr.has("rope_theta")) {
    PAGODA_ASSIGN_OR_RETURN(c.rope_theta, rr.number("rope_theta", std::nullopt));
  }
  std::string type;
  if (rr.has("rope_type")) {
    PAGODA_ASSIGN_OR_RETURN(type, rr.string("rope_type", std::nullopt));
  } else {
    PAGODA_ASSIGN_OR_RETURN(type, rr.string("type", std::string("default")));
  }
  if (type == "default") return ok_status();
  if (type != "linear" && type != "yarn") {
    return unimplemented(rr.source() + ": rope type '" + type +
                         "' is not supported (default, linear, yarn are)");
  }
  PAGODA_ASSIGN_OR_RETURN(c.rope_scaling.factor, rr.number("factor", std::nullopt));
  if (c.rope_scaling.factor < 1.0) return rr.error("factor", "must be >= 1");
  if (type == "linear") {
    c.rope_scaling.type = RopeScaling::Type::kLinear;
    return ok_status();
  }
  c.rope_scaling.type = RopeScaling::Type::kYarn;
  PAGODA_ASSIGN_OR_RETURN(c.rope_scaling.original_max_position_embeddings,
                          rr.integer("original_max_position_embeddings", c.max_position_embeddings, 1,
                                     std::numeric_limits<std::int32_t>::max()));
  PAGODA_ASSIGN_OR_RETURN(c.rope_scaling.beta_fast, rr.number("beta_fast", 32.0));
  PAGODA_ASSIGN_OR_RETURN(c.rope_scaling.beta_slow, rr.number("beta_slow", 1.0));
  PAGODA_ASSIGN_OR_RETURN(c.rope_scaling.truncate, rr.boolean("truncate", true));
  if (rr.has("attention_factor")) {
    PAGODA_ASSIGN_OR_RETURN(double af, rr.number("attention_factor", std::nullopt));
    c.rope_scaling.attention_factor = af;
  }
  if (rr.has("mscale") || rr.has("mscale_all_dim")) {
    return unimplemented(rr.source() + ": YaRN 'mscale'/'mscale_all_dim' (DeepSeek style) are not supported");
  }
  return ok_status();
}

}  // namespace

std::int64_t ModelConfig::num_parameters() const {
  std::int64_t h = hidden_size;
  std::int64_t per_layer = 2 * h                                      // two RMSNorms
                           + h * (q_size() + 2LL * kv_size())         // q, k, v
                           + static_cast<std::int64_t>(q_size()) * h  // o
                           + 2LL * head_dim                           // q_norm, k_norm
                           + 3LL * h * intermediate_size;             // gate, up, down
  std::int64_t embed = static_cast<std::int64_t>(vocab_size) * h;
  return embed + num_hidden_layers * per_layer + h + (tie_word_embeddings ? 0 : embed);
}

Status ModelConfig::validate(const std::string& source) const {
  auto err = [&](std::string_view field, const std::string& what) {
    return invalid_argument(source + ": field '" + std::string(field) + "': " + what);
  };
  if (num_attention_heads % num_key_value_heads != 0) {
    return err("num_key_value_heads", std::to_string(num_key_value_heads) +
                                          " does not divide num_attention_heads " +
                                          std::to_string(num_attention_heads));
  }
  if (head_dim % 2 != 0)
    return err("head_dim", "must be even for rotary embeddings, got " + std::to_string(head_dim));
  if (rms_norm_eps <= 0) return err("rms_norm_eps", "must be positive");
  if (rope_theta <= 0) return err("rope_theta", "must be positive");
  if (dtype != DType::kBF16 && dtype != DType::kF16 && dtype != DType::kF32) {
    return err("torch_dtype", "unsupported dtype " + std::string(dtype_name(dtype)));
  }
  for (std::int32_t id : eos_token_ids) {
    if (id >= vocab_size) {
      return err("eos_token_id",
                 std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab_size));
    }
  }
  if (bos_token_id && *bos_token_id >= vocab_size) {
    return err("bos_token_id", std::to_string(*bos_token_id) + " is outside the vocabulary");
  }
  return ok_status();
}

StatusOr<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source) {
  PAGODA_ASSIGN_OR_RETURN(Json j, parse_json_object(json_text, source));
  ModelConfig c;
  PAGODA_RETURN_IF_ERROR(check_architecture(j, source, c.architecture));
  FieldReader f(j, source);
  auto dim = [&](std::string_view field, std::optional<std::int64_t> fallback) -> StatusOr<std::int32_t> {
    PAGODA_ASSIGN_OR_RETURN(std::int64_t v, f.integer(field, fallback, 1, kMaxDimension));
    return static_cast<std::int32_t>(v);
  };
  PAGODA_ASSIGN_OR_RETURN(c.hidden_size, dim("hidden_size", std::nullopt));
  PAGODA_ASSIGN_OR_RETURN(c.num_hidden_layers, dim("num_hidden_layers", std::nullopt));
  PAGODA_ASSIGN_OR_RETURN(c.num_attention_heads, dim("num_attention_heads", std::nullopt));
  // Hugging Face's Qwen3Config defaults: num_key_value_heads = num_attention_heads, head_dim = 128.
  PAGODA_ASSIGN_OR_RETURN(c.num_key_value_heads, dim("num_key_value_heads", c.num_attention_heads));
  PAGODA_ASSIGN_OR_RETURN(c.head_dim, dim("head_dim", 128));
  PAGODA_ASSIGN_OR_RETURN(c.intermediate_size, dim("intermediate_size", std::nullopt));
  PAGODA_ASSIGN_OR_RETURN(std::int64_t vocab,
                          f.integer("vocab_size", std::nullopt, 1, std::numeric_limits<std::int32_t>::max()));
  c.vocab_size = static_cast<std::int32_t>(vocab);
  PAGODA_ASSIGN_OR_RETURN(c.rms_norm_eps, f.number("rms_norm_eps", 1e-6));
  PAGODA_ASSIGN_OR_RETURN(c.max_position_embeddings, f.integer("max_position_embeddings", 32768, 1,
                                                               std::numeric_limits<std::int32_t>::max()));
  PAGODA_RETURN_IF_ERROR(parse_rope(j, f, c));
  PAGODA_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.boolean("tie_word_embeddings", false));

  std::string dtype_field = f.has("torch_dtype") ? "torch_dtype" : "dtype";
  PAGODA_ASSIGN_OR_RETURN(std::string dtype_text, f.string(dtype_field, std::string("bfloat16")));
  auto dtype = dtype_from_torch_name(dtype_text);
  if (!dtype)
    return f.error(dtype_field, "unsupported dtype '" + dtype_text + "' (bfloat16, float16, float32 are)");
  c.dtype = *dtype;

  PAGODA_ASSIGN_OR_RETURN(std::string act, f.string("hidden_act", std::string("silu")));
  if (act != "silu") return f.error("hidden_act", "'" + act + "' is not supported; Qwen 3 uses silu");
  PAGODA_ASSIGN_OR_RETURN(bool attention_bias, f.boolean("attention_bias", false));
  if (attention_bias) return f.error("attention_bias", "true is not supported; Qwen 3 has no attention bias");
  PAGODA_ASSIGN_OR_RETURN(bool sliding, f.boolean("use_sliding_window", false));
  if (sliding)
    return f.error("use_sliding_window", "true is not supported (Qwen 3 dense uses full attention)");

  if (f.has("bos_token_id")) {
    PAGODA_ASSIGN_OR_RETURN(std::int64_t bos, f.integer("bos_token_id", std::nullopt, 0,
                                                        std::numeric_limits<std::int32_t>::max()));
    c.bos_token_id = static_cast<std::int32_t>(bos);
  }
  PAGODA_ASSIGN_OR_RETURN(c.eos_token_ids, f.id_list("eos_token_id"));
  PAGODA_RETURN_IF_ERROR(c.validate(source));
  return c;
}

Status apply_generation_config(const std::string& json_text, const std::string& source, ModelConfig& config) {
  PAGODA_ASSIGN_OR_RETURN(Json j, parse_json_object(json_text, source));
  FieldReader f(j, source);
  PAGODA_ASSIGN_OR_RETURN(std::vector<std::int32_t> eos, f.id_list("eos_token_id"));
  for (std::int32_t id : eos) {
    if (id >= config.vocab_size)
      return f.error("eos_token_id", std::to_string(id) + " is outside the vocabulary");
    bool seen = false;
    for (std::int32_t e : config.eos_token_ids)
      seen = seen || e == id;
    if (!seen) config.eos_token_ids.push_back(id);
  }
  GenerationDefaults& g = config.generation;
  auto opt_number = [&](std::string_view field, std::optional<double>& out) -> Status {
    if (!f.has(field)) return ok_status();
    PAGODA_ASSIGN_OR_RETURN(double v, f.number(field, std::nullopt));
    out = v;
    return ok_status();
  };
  PAGODA_RETURN_IF_ERROR(opt_number("temperature", g.temperature));
  PAGODA_RETURN_IF_ERROR(opt_number("top_p", g.top_p));
  PAGODA_RETURN_IF_ERROR(opt_number("min_p", g.min_p));
  PAGODA_RETURN_IF_ERROR(opt_number("repetition_penalty", g.repetition_penalty));
  if (f.has("top_k")) {
    PAGODA_ASSIGN_OR_RETURN(std::int64_t k, f.integer("top_k", std::nullopt, 0, config.vocab_size));
    g.top_k = static_cast<std::int32_t>(k);
  }
  return ok_status();
}

StatusOr<ModelConfig> load_model_config(const std::string& model_dir) {
  namespace fs = std::filesystem;
  std::string path = (fs::path(model_dir) / "config.json").string();
  if (!fs::exists(path)) return not_found(path + ": not found (is --model a Hugging Face model directory?)");
  PAGODA_ASSIGN_OR_RETURN(std::string text, read_file(path));
  PAGODA_ASSIGN_OR_RETURN(ModelConfig config, parse_model_config(text, path));
  std::string gen_path = (fs::path(model_dir) / "generation_config.json").string();
  if (fs::exists(gen_path)) {
    PAGODA_ASSIGN_OR_RETURN(std::string gen_text, read_file(gen_path));
    PAGODA_RETURN_IF_ERROR(apply_generation_config(gen_text, gen_path, config));
  }
  return config;
}

std::string model_config_to_json(const ModelConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = {c.architecture};
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_ids.size() == 1) {
    j["eos_token_id"] = c.eos_token_ids[0];
  } else if (!c.eos_token_ids.empty()) {
    j["eos_token_id"] = c.eos_token_ids;
  }
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["hidden_size"] = c.hidden_size;
  j["initializer_range"] = 0.02;
  j["intermediate_size"] = c.intermediate_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["max_window_layers"] = c.num_hidden_layers;
  j["model_type"] = "qwen3";
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["rms_norm_eps"] = c.rms_norm_eps;
  if (c.rope_scaling.type == RopeScaling::Type::kNone) {
    j["rope_scaling"] = nullptr;
  } else {
    nlohmann::ordered_json r;
    r["rope_type"] = c.rope_scaling.type == RopeScaling::Type::kYarn ? "yarn" : "linear";
    r["factor"] = c.rope_scaling.factor;
    if (c.rope_scaling.type == RopeScaling::Type::kYarn) {
      r["original_max_position_embeddings"] = c.rope_scaling.original_max_position_embeddings;
    }
    j["rope_scaling"] = r;
  }
  j["rope_theta"] = c.rope_theta;
  j["sliding_window"] = nullptr;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["torch_dtype"] = dtype_torch_name(c.dtype);
  j["transformers_version"] = "4.51.0";
  j["use_cache"] = true;
  j["use_sliding_window"] = false;
  j["vocab_size"] = c.vocab_size;
  return j.dump(2) + "\n";
}

std::string generation_config_to_json(const ModelConfig& c) {
  nlohmann::ordered_json j;
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  j["do_sample"] = true;
  j["eos_token_id"] = c.eos_token_ids;
  if (c.generation.temperature) j["temperature"] = *c.generation.temperature;
  if (c.generation.top_k) j["top_k"] = *c.generation.top_k;
  if (c.generation.top_p) j["top_p"] = *c.generation.top_p;
  j["transformers_version"] = "4.51.0";
  return j.dump(2) + "\n";
}

}  // namespace pagoda
