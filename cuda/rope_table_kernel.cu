#include "cuda/kernel_launch.cuh"
#include "cuda/rope_table_kernel.h"

namespace pagoda::cuda {
namespace {

__global__ void rope_table_kernel(RopeTableParams p) {
  await_previous_grid();
  const std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.num_tokens * p.half) return;
  const std::int64_t t = idx / p.half;
  const std::int64_t i = idx % p.half;
  const double angle = static_cast<double>(p.positions[t]) * p.inv_freq[i];
  p.cos[idx] = static_cast<float>(cos(angle) * p.attention_scaling);
  p.sin[idx] = static_cast<float>(sin(angle) * p.attention_scaling);
}

}  // namespace

cudaError_t launch_rope_table(const RopeTableParams& p, cudaStream_t stream, LaunchOrder order) {
  const std::int64_t total = p.num_tokens * p.half;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  return launch_kernel(rope_table_kernel, static_cast<unsigned>((total + threads - 1) / threads), threads, 0,
                       stream, order, p);
}

}  // namespace pagoda::cuda
