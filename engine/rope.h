// Rotary position embedding frequencies as Hugging Face computes them for
// Qwen 3: inv_freq[i] = theta^(-2i/d), optionally rescaled (linear, YaRN), and
// the attention scaling YaRN applies to cos/sin. Backend-independent; pure.
#pragma once

#include <vector>

#include "engine/model/model_config.h"

namespace pagoda {

struct RopeFrequencies {
  std::vector<double> inv_freq;    // [head_dim / 2]
  double attention_scaling = 1.0;  // multiplies cos and sin (YaRN's mscale)
};

RopeFrequencies rope_frequencies(const ModelConfig& config);

}  // namespace pagoda
