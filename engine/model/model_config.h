// ModelConfig: the shape and numerics of a dense Qwen 3 model, parsed from a
// Hugging Face config.json (+ generation_config.json). Plain value; immutable
// once loaded, so any thread may read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/model/dtype.h"
#include "scheduler/sampling_params.h"

namespace pagoda {

// RoPE frequency scaling (config.json "rope_scaling" / "rope_parameters").
struct RopeScaling {
  enum class Type { kNone, kLinear, kYarn };
  Type type = Type::kNone;
  double factor = 1.0;
  // YaRN only.
  std::int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> attention_factor;  // default: 0.1 * ln(factor) + 1
  bool truncate = true;                    // round the correction range to whole dims (HF default)
};

// Sampling defaults a checkpoint ships in generation_config.json.
struct GenerationDefaults {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int32_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;

  // Default SamplingParams with the fields the checkpoint sets replaced.
  SamplingParams sampling() const;
};

struct ModelConfig {
  std::string architecture;  // "Qwen3ForCausalLM"
  std::int32_t hidden_size = 0;
  std::int32_t num_hidden_layers = 0;
  std::int32_t num_attention_heads = 0;
  std::int32_t num_key_value_heads = 0;
  std::int32_t head_dim = 0;  // may differ from hidden_size / num_attention_heads
  std::int32_t intermediate_size = 0;
  std::int32_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  std::int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  DType dtype = DType::kBF16;  // "torch_dtype" or "dtype"
  std::optional<std::int32_t> bos_token_id;
  std::vector<std::int32_t> eos_token_ids;  // config.json and generation_config.json, merged
  GenerationDefaults generation;

  std::int32_t q_size() const { return num_attention_heads * head_dim; }
  std::int32_t kv_size() const { return num_key_value_heads * head_dim; }
  // Parameters in the checkpoint (embedding, layers, final norm, lm_head if untied).
  std::int64_t num_parameters() const;

  // Checks internal consistency (positive sizes, head divisibility, ...).
  // Errors name the field; `source` (a path) prefixes them.
  Status validate(const std::string& source) const;
};

// Parses config.json text. `source` names the file in errors.
StatusOr<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source);

// Reads DIR/config.json and, when present, DIR/generation_config.json.
StatusOr<ModelConfig> load_model_config(const std::string& model_dir);

// Merges generation_config.json text into `config` (eos ids, sampling defaults).
Status apply_generation_config(const std::string& json_text, const std::string& source, ModelConfig& config);

// config.json text for `config`, in the layout Hugging Face writes for Qwen3ForCausalLM.
std::string model_config_to_json(const ModelConfig& config);
std::string generation_config_to_json(const ModelConfig& config);

}  // namespace pagoda
