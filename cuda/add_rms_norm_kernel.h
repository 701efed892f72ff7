// Fused residual add + RMSNorm, rounded to bf16 for the next GEMM:
//   x = residual[src] (+ add[src]);  if write_residual: residual[src] = x;
//   out[i] = bf16(x / sqrt(mean(x^2) + eps) * weight)
// where src = row_index[i] when row_index is set (the final norm of sampled
// rows only) and i otherwise. Stream-ordered; no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct AddRmsNormParams {
  float* residual = nullptr;                // [num_source_rows, hidden] f32
  const float* add = nullptr;               // [num_source_rows, hidden] or null
  const std::int32_t* row_index = nullptr;  // [rows] source row of each output row, or null
  bool write_residual = false;              // store residual + add back (row_index must be null)
  const std::uint16_t* weight = nullptr;    // [hidden] bf16
  std::uint16_t* out = nullptr;             // [rows, hidden] bf16
  std::int64_t rows = 0;
  std::int64_t hidden = 0;
  float eps = 1e-6f;
};

cudaError_t launch_add_rms_norm(const AddRmsNormParams& p, cudaStream_t stream,
                                LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
