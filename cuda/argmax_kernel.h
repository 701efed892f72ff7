// Greedy sampling on the device: the index of each row's largest logit, the
// lowest index among equal maxima (as the host Sampler's argmax), so only one
// int32 per row crosses to the host. Stream-ordered; no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct ArgmaxParams {
  const float* logits = nullptr;       // [num_rows, row_stride] f32
  const std::int32_t* rows = nullptr;  // [num_out] which logits row each output reads
  std::int32_t* out = nullptr;         // [num_out] token ids
  std::int64_t num_out = 0;
  std::int64_t vocab_size = 0;  // columns considered
  std::int64_t row_stride = 0;
};

cudaError_t launch_argmax(const ArgmaxParams& p, cudaStream_t stream,
                          LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
