#include "engine/model/model_preset.h"

namespace pagoda {
namespace {

struct Shape {
  const char* name;
  int hidden, layers, heads, kv_heads, head_dim, intermediate;
  bool tied;
};

// From the published config.json files of Qwen/Qwen3-*. `tiny` keeps the full
// vocabulary (so the real tokenizer works) with small layers; its heads x
// head_dim (256) differs from hidden (128), as in Qwen3-0.6B.
constexpr Shape kShapes[] = {
    {"tiny", 128, 2, 4, 2, 64, 384, true},       {"0.6b", 1024, 28, 16, 8, 128, 3072, true},
    {"1.7b", 2048, 28, 16, 8, 128, 6144, true},  {"4b", 2560, 36, 32, 8, 128, 9728, true},
    {"8b", 4096, 36, 32, 8, 128, 12288, false},  {"14b", 5120, 40, 40, 8, 128, 17408, false},
    {"32b", 5120, 64, 64, 8, 128, 25600, false},
};

}  // namespace

std::vector<std::string> model_preset_names() {
  std::vector<std::string> out;
  for (const Shape& s : kShapes)
    out.emplace_back(s.name);
  return out;
}

StatusOr<ModelConfig> model_preset(std::string_view name) {
  for (const Shape& s : kShapes) {
    if (name != s.name) continue;
    ModelConfig c;
    c.architecture = "Qwen3ForCausalLM";
    c.hidden_size = s.hidden;
    c.num_hidden_layers = s.layers;
    c.num_attention_heads = s.heads;
    c.num_key_value_heads = s.kv_heads;
    c.head_dim = s.head_dim;
    c.intermediate_size = s.intermediate;
    c.vocab_size = 151936;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 1000000.0;
    c.max_position_embeddings = 40960;
    c.tie_word_embeddings = s.tied;
    c.dtype = DType::kBF16;
    c.bos_token_id = 151643;             // <|endoftext|>
    c.eos_token_ids = {151645, 151643};  // <|im_end|>, <|endoftext|>
    c.generation.temperature = 0.6;
    c.generation.top_k = 20;
    c.generation.top_p = 0.95;
    return c;
  }
  std::string names;
  for (const std::string& n : model_preset_names())
    names += (names.empty() ? "" : ", ") + n;
  return invalid_argument("unknown model preset '" + std::string(name) + "' (known: " + names + ")");
}

}  // namespace pagoda
