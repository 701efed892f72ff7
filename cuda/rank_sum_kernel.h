// The sum of every tensor-parallel rank's part, added in rank order:
// out[i] = ((parts[0][i] + parts[1][i]) + parts[2][i]) + ... — what an
// all-reduce computes, but in one order whatever the count (NCCL's order for
// more than two ranks follows its chunking of the message). With the parts
// all-gathered, this is the batch-invariant mode's all-reduce at tp > 2.
// Stream-ordered; no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct RankSumParams {
  const float* parts = nullptr;  // [num_ranks, count] f32
  float* out = nullptr;          // [count] f32 (may be one of the parts)
  std::int64_t count = 0;
  int num_ranks = 0;  // >= 1
};

// cudaErrorInvalidValue for num_ranks < 1, count < 0 or a null pointer.
cudaError_t launch_rank_sum(const RankSumParams& p, cudaStream_t stream,
                            LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
