#include "cuda/add_rms_norm_kernel.h"
#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"

namespace pagoda::cuda {
namespace {

constexpr int kThreads = 256;

// grid: rows; block: kThreads. Each thread keeps its strided slice of the row
// in registers between the two passes when hidden <= kThreads * kMaxPerThread.
constexpr int kMaxPerThread = 32;  // hidden up to 8192 stays in registers

__global__ void add_rms_norm_kernel(AddRmsNormParams p) {
  await_previous_grid();
  __shared__ float scratch[kThreads / kWarpSize];
  const std::int64_t i = blockIdx.x;
  const std::int64_t src = p.row_index != nullptr ? p.row_index[i] : i;
  float* res = p.residual + src * p.hidden;
  const float* add = p.add != nullptr ? p.add + src * p.hidden : nullptr;
  float vals[kMaxPerThread];
  float sq = 0.0f;
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const std::int64_t j = threadIdx.x + static_cast<std::int64_t>(k) * kThreads;
    float x = 0.0f;
    if (j < p.hidden) {
      x = res[j];
      if (add != nullptr) x += add[j];
      if (p.write_residual) res[j] = x;
    }
    vals[k] = x;
    sq += x * x;
  }
  // Rows wider than the register slice: the rest is re-read in the second pass.
  for (std::int64_t j = threadIdx.x + static_cast<std::int64_t>(kMaxPerThread) * kThreads; j < p.hidden;
       j += kThreads) {
    float x = res[j];
    if (add != nullptr) x += add[j];
    if (p.write_residual) res[j] = x;
    sq += x * x;
  }
  const float total = block_sum(sq, scratch);
  const float inv = rsqrtf(total / static_cast<float>(p.hidden) + p.eps);
  std::uint16_t* out = p.out + i * p.hidden;
#pragma unroll
  for (int k = 0; k < kMaxPerThread; ++k) {
    const std::int64_t j = threadIdx.x + static_cast<std::int64_t>(k) * kThreads;
    if (j < p.hidden) out[j] = f32_to_bf16_bits(vals[k] * inv * bf16_bits_to_f32(p.weight[j]));
  }
  for (std::int64_t j = threadIdx.x + static_cast<std::int64_t>(kMaxPerThread) * kThreads; j < p.hidden;
       j += kThreads) {
    float x = p.write_residual ? res[j] : res[j] + (add != nullptr ? add[j] : 0.0f);
    out[j] = f32_to_bf16_bits(x * inv * bf16_bits_to_f32(p.weight[j]));
  }
}

}  // namespace

cudaError_t launch_add_rms_norm(const AddRmsNormParams& p, cudaStream_t stream, LaunchOrder order) {
  if (p.rows == 0) return cudaSuccess;
  if (p.row_index != nullptr && p.write_residual) return cudaErrorInvalidValue;
  return launch_kernel(add_rms_norm_kernel, static_cast<unsigned>(p.rows), kThreads, 0, stream, order, p);
}

}  // namespace pagoda::cuda
