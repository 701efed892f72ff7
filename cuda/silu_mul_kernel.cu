#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"
#include "cuda/silu_mul_kernel.h"

namespace pagoda::cuda {
namespace {

__global__ void silu_mul_kernel(SiluMulParams p) {
  await_previous_grid();
  const std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.num_tokens * p.inter) return;
  const std::int64_t t = idx / p.inter;
  const std::int64_t i = idx % p.inter;
  const float g = p.gate_up[t * 2 * p.inter + i];
  const float u = p.gate_up[t * 2 * p.inter + p.inter + i];
  p.out[idx] = silu_mul_bf16(g, u);
}

}  // namespace

cudaError_t launch_silu_mul(const SiluMulParams& p, cudaStream_t stream, LaunchOrder order) {
  const std::int64_t total = p.num_tokens * p.inter;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  return launch_kernel(silu_mul_kernel, static_cast<unsigned>((total + threads - 1) / threads), threads, 0,
                       stream, order, p);
}

}  // namespace pagoda::cuda
