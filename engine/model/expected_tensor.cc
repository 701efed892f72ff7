#include "engine/model/expected_tensor.h"

namespace pagoda {

std::string layer_tensor(int layer, std::string_view name) {
  return "model.layers." + std::to_string(layer) + "." + std::string(name);
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  namespace t = layer_tensors;
  const std::int64_t h = c.hidden_size;
  const std::int64_t q = c.q_size();
  const std::int64_t kv = c.kv_size();
  const std::int64_t inter = c.intermediate_size;
  std::vector<ExpectedTensor> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    out.push_back({layer_tensor(i, t::kInputNorm), {h}});
    out.push_back({layer_tensor(i, t::kQProj), {q, h}});
    out.push_back({layer_tensor(i, t::kKProj), {kv, h}});
    out.push_back({layer_tensor(i, t::kVProj), {kv, h}});
    out.push_back({layer_tensor(i, t::kOProj), {h, q}});
    out.push_back({layer_tensor(i, t::kQNorm), {c.head_dim}});
    out.push_back({layer_tensor(i, t::kKNorm), {c.head_dim}});
    out.push_back({layer_tensor(i, t::kPostAttentionNorm), {h}});
    out.push_back({layer_tensor(i, t::kGateProj), {inter, h}});
    out.push_back({layer_tensor(i, t::kUpProj), {inter, h}});
    out.push_back({layer_tensor(i, t::kDownProj), {h, inter}});
  }
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  return out;
}

}  // namespace pagoda
