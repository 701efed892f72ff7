#include "cuda/argmax_kernel.h"
#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"

namespace pagoda::cuda {
namespace {

constexpr int kThreads = 1024;

// a beats b: larger value, or equal value and lower index.
__device__ __forceinline__ bool better(float av, std::int32_t ai, float bv, std::int32_t bi) {
  return av > bv || (av == bv && ai < bi);
}

// grid: num_out; block: kThreads.
__global__ void __launch_bounds__(kThreads) argmax_kernel(ArgmaxParams p) {
  await_previous_grid();
  __shared__ float best_v[kThreads / kWarpSize];
  __shared__ std::int32_t best_i[kThreads / kWarpSize];
  const std::int64_t r = p.rows != nullptr ? p.rows[blockIdx.x] : blockIdx.x;
  const float* row = p.logits + r * p.row_stride;
  float v = -INFINITY;
  std::int32_t idx = 0x7fffffff;
  for (std::int64_t i = threadIdx.x; i < p.vocab_size; i += kThreads) {
    const float x = row[i];
    if (better(x, static_cast<std::int32_t>(i), v, idx)) {
      v = x;
      idx = static_cast<std::int32_t>(i);
    }
  }
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, offset);
    const std::int32_t oi = __shfl_xor_sync(0xffffffffu, idx, offset);
    if (better(ov, oi, v, idx)) {
      v = ov;
      idx = oi;
    }
  }
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  if (lane == 0) {
    best_v[warp] = v;
    best_i[warp] = idx;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / kWarpSize; ++w) {
      if (better(best_v[w], best_i[w], v, idx)) {
        v = best_v[w];
        idx = best_i[w];
      }
    }
    // Every logit NaN: token 0, as the host Sampler's argmax.
    p.out[blockIdx.x] = idx == 0x7fffffff ? 0 : idx;
  }
}

}  // namespace

cudaError_t launch_argmax(const ArgmaxParams& p, cudaStream_t stream, LaunchOrder order) {
  if (p.num_out == 0) return cudaSuccess;
  if (p.vocab_size < 1 || p.vocab_size > 0x7fffffff) return cudaErrorInvalidValue;
  return launch_kernel(argmax_kernel, static_cast<unsigned>(p.num_out), kThreads, 0, stream, order, p);
}

}  // namespace pagoda::cuda
