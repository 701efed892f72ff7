// RoPE cos/sin table for one step: cos[t][i] = cos(pos_t * inv_freq[i]) *
// attention_scaling (sin alike), computed in double and rounded to f32 once,
// exactly as the CPU backend does. Built once per step, read by every layer.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct RopeTableParams {
  const std::int32_t* positions = nullptr;  // [num_tokens]
  const double* inv_freq = nullptr;         // [half] (YaRN-adjusted)
  double attention_scaling = 1.0;
  float* cos = nullptr;  // [num_tokens, half]
  float* sin = nullptr;  // [num_tokens, half]
  std::int64_t num_tokens = 0;
  std::int64_t half = 0;  // head_dim / 2
};

cudaError_t launch_rope_table(const RopeTableParams& p, cudaStream_t stream,
                              LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
