// SwiGLU activation of the fused gate/up projection, rounded to bf16 for the
// down projection: out[t][i] = bf16(silu(gate[t][i]) * up[t][i]).
// Stream-ordered; no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct SiluMulParams {
  const float* gate_up = nullptr;  // [num_tokens, 2 * inter]: gate columns, then up columns
  std::uint16_t* out = nullptr;    // [num_tokens, inter] bf16
  std::int64_t num_tokens = 0;
  std::int64_t inter = 0;
};

cudaError_t launch_silu_mul(const SiluMulParams& p, cudaStream_t stream,
                            LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
