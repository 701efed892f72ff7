#include "cuda/kernel_launch.cuh"
#include "cuda/rank_sum_kernel.h"

namespace pagoda::cuda {
namespace {

constexpr int kThreads = 256;

// One thread per element; reads every rank's element before writing out, so
// out may alias a part.
__global__ void rank_sum_kernel(RankSumParams p) {
  await_previous_grid();
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= p.count) return;
  float sum = p.parts[i];
  for (int r = 1; r < p.num_ranks; ++r)
    sum += p.parts[static_cast<std::int64_t>(r) * p.count + i];
  p.out[i] = sum;
}

}  // namespace

cudaError_t launch_rank_sum(const RankSumParams& p, cudaStream_t stream, LaunchOrder order) {
  if (p.num_ranks < 1 || p.count < 0 || p.parts == nullptr || p.out == nullptr) return cudaErrorInvalidValue;
  if (p.count == 0) return cudaSuccess;
  const std::int64_t blocks = (p.count + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  return launch_kernel(rank_sum_kernel, static_cast<unsigned>(blocks), kThreads, 0, stream, order, p);
}

}  // namespace pagoda::cuda
