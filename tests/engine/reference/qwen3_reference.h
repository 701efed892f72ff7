// Qwen3Reference: a deliberately naive double-precision Qwen 3 forward pass for
// tests — contiguous attention, no paging, no batching, no shared kernels —
// written straight from the Hugging Face modeling code. Tiny models only.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/checkpoint.h"
#include "engine/model/model_config.h"

namespace pagoda::testing {

class Qwen3Reference {
 public:
  Qwen3Reference(const ModelConfig& config, const Checkpoint& checkpoint);

  // Logits [tokens.size()][vocab] of a whole sequence, causal.
  std::vector<std::vector<double>> forward(const std::vector<std::int32_t>& tokens) const;

  // Greedy continuation of `prompt` by max_new tokens, with the top-1/top-2
  // logit margin at each step (how robust each token is to rounding).
  struct Greedy {
    std::vector<std::int32_t> tokens;
    std::vector<double> margins;
  };
  Greedy greedy(const std::vector<std::int32_t>& prompt, int max_new) const;

 private:
  using Matrix = std::vector<double>;  // row-major
  struct Layer {
    Matrix input_norm, post_norm, q_norm, k_norm, q, k, v, o, gate, up, down;
  };
  Matrix load(const Checkpoint& ckpt, const std::string& name) const;

  ModelConfig c_;
  Matrix embed_, lm_head_, final_norm_;
  std::vector<Layer> layers_;
  std::vector<double> inv_freq_;
  double attention_scaling_ = 1.0;
};

}  // namespace pagoda::testing
