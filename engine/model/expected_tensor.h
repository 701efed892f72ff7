// ExpectedTensor: the tensors a Qwen 3 checkpoint must hold, by Hugging Face
// name and shape ([out_features, in_features] for projections). Pure function.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/model_config.h"

namespace pagoda {

struct ExpectedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
};

// In checkpoint order: embedding, then per layer, then final norm and lm_head
// (omitted when tie_word_embeddings).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// The names of a decoder layer's tensors, after the layer's prefix
// (layer_tensor), as Hugging Face's Qwen3ForCausalLM writes them.
namespace layer_tensors {
inline constexpr std::string_view kInputNorm = "input_layernorm.weight";
inline constexpr std::string_view kQProj = "self_attn.q_proj.weight";
inline constexpr std::string_view kKProj = "self_attn.k_proj.weight";
inline constexpr std::string_view kVProj = "self_attn.v_proj.weight";
inline constexpr std::string_view kOProj = "self_attn.o_proj.weight";
inline constexpr std::string_view kQNorm = "self_attn.q_norm.weight";
inline constexpr std::string_view kKNorm = "self_attn.k_norm.weight";
inline constexpr std::string_view kPostAttentionNorm = "post_attention_layernorm.weight";
inline constexpr std::string_view kGateProj = "mlp.gate_proj.weight";
inline constexpr std::string_view kUpProj = "mlp.up_proj.weight";
inline constexpr std::string_view kDownProj = "mlp.down_proj.weight";
// The seven projections, in checkpoint order.
inline constexpr std::array<std::string_view, 7> kProjections = {kQProj,    kKProj,  kVProj,   kOProj,
                                                                 kGateProj, kUpProj, kDownProj};
}  // namespace layer_tensors

// "model.layers.<layer>.<name>".
std::string layer_tensor(int layer, std::string_view name);

}  // namespace pagoda
