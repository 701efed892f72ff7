#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"
#include "cuda/qk_norm_rope_kernel.h"

namespace pagoda::cuda {
namespace {

constexpr int kMaxHeadDim = 512;
constexpr int kPerLane = kMaxHeadDim / kWarpSize;

// grid: (num_tokens, ceil(heads_total / warps per block)); one warp per head,
// where heads 0..num_heads-1 are Q, then num_kv_heads K heads, then V heads.
// A lane holds elements lane, lane + 32, ... of the head vector; RoPE pairs
// element i with i + half, which lives in the same lane when half % 32 == 0
// and otherwise goes through shared memory.
__global__ void qk_norm_rope_kernel(QkNormRopeParams p) {
  await_previous_grid();
  float* head_buf = dynamic_shared_memory<float>();  // [warps per block][head_dim]
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const std::int64_t t = blockIdx.x;
  const std::int64_t head = static_cast<std::int64_t>(blockIdx.y) * (blockDim.x / kWarpSize) + warp;
  const std::int64_t total_heads = p.num_heads + 2 * p.num_kv_heads;
  if (head >= total_heads) return;
  const std::int64_t hd = p.head_dim;
  const float* src = p.qkv + (t * total_heads + head) * hd;
  float* buf = head_buf + warp * hd;

  const bool is_v = head >= p.num_heads + p.num_kv_heads;
  const std::int64_t slot = p.slot_mapping[t];
  const std::int64_t block = slot / p.block_size;
  const std::int64_t offset = slot % p.block_size;
  if (is_v) {
    const std::int64_t kvh = head - p.num_heads - p.num_kv_heads;
    std::uint16_t* dst = p.v_cache + ((block * p.num_kv_heads + kvh) * p.block_size + offset) * hd;
    for (std::int64_t i = lane; i < hd; i += kWarpSize)
      dst[i] = f32_to_bf16_bits(src[i]);
    return;
  }
  const bool is_q = head < p.num_heads;
  const std::uint16_t* w = is_q ? p.q_norm_weight : p.k_norm_weight;
  float sq = 0.0f;
  for (std::int64_t i = lane; i < hd; i += kWarpSize) {
    const float x = src[i];
    sq += x * x;
  }
  const float inv = rsqrtf(warp_sum(sq) / static_cast<float>(hd) + p.eps);
  for (std::int64_t i = lane; i < hd; i += kWarpSize)
    buf[i] = src[i] * inv * bf16_bits_to_f32(w[i]);
  __syncwarp();
  const std::int64_t half = hd / 2;
  const float* c = p.cos + t * half;
  const float* s = p.sin + t * half;
  float rotated[kPerLane];
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const std::int64_t i = lane + static_cast<std::int64_t>(k) * kWarpSize;
    if (i >= hd) break;
    if (i < half) {
      rotated[k] = buf[i] * c[i] - buf[i + half] * s[i];
    } else {
      rotated[k] = buf[i] * c[i - half] + buf[i - half] * s[i - half];
    }
  }
  if (is_q) {
    float* dst = p.q_out + (t * p.num_heads + head) * hd;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const std::int64_t i = lane + static_cast<std::int64_t>(k) * kWarpSize;
      if (i >= hd) break;
      dst[i] = rotated[k];
    }
  } else {
    const std::int64_t kvh = head - p.num_heads;
    std::uint16_t* dst = p.k_cache + ((block * p.num_kv_heads + kvh) * p.block_size + offset) * hd;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const std::int64_t i = lane + static_cast<std::int64_t>(k) * kWarpSize;
      if (i >= hd) break;
      dst[i] = f32_to_bf16_bits(rotated[k]);
    }
  }
}

}  // namespace

cudaError_t launch_qk_norm_rope(const QkNormRopeParams& p, cudaStream_t stream, LaunchOrder order) {
  if (p.num_tokens == 0) return cudaSuccess;
  if (p.head_dim <= 0 || p.head_dim % 2 != 0 || p.head_dim > kMaxHeadDim) return cudaErrorInvalidValue;
  constexpr int kWarps = 8;
  const std::int64_t total_heads = p.num_heads + 2 * p.num_kv_heads;
  const dim3 grid(static_cast<unsigned>(p.num_tokens),
                  static_cast<unsigned>((total_heads + kWarps - 1) / kWarps));
  const std::size_t smem = sizeof(float) * kWarps * static_cast<std::size_t>(p.head_dim);
  return launch_kernel(qk_norm_rope_kernel, grid, kWarps * kWarpSize, smem, stream, order, p);
}

}  // namespace pagoda::cuda
