// Per-head q_norm / k_norm (RMSNorm over head_dim), rotate-half RoPE, and the
// write of K and V into the paged cache, for one layer of one step. Reads the
// fused QKV projection; writes Q (f32, for attention) and the cache (bf16).
// Stream-ordered; no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct QkNormRopeParams {
  const float* qkv = nullptr;  // [num_tokens, (num_heads + 2 * num_kv_heads) * head_dim]: Q, K, V
  const std::uint16_t* q_norm_weight = nullptr;  // [head_dim] bf16
  const std::uint16_t* k_norm_weight = nullptr;  // [head_dim] bf16
  const float* cos = nullptr;                    // [num_tokens, head_dim / 2] (rope_table)
  const float* sin = nullptr;
  const std::int64_t* slot_mapping = nullptr;  // [num_tokens] cache slot = block id * block_size + offset
  float* q_out = nullptr;                      // [num_tokens, num_heads, head_dim]
  std::uint16_t* k_cache = nullptr;            // [num_blocks, num_kv_heads, block_size, head_dim] bf16
  std::uint16_t* v_cache = nullptr;            // same layout
  std::int64_t num_tokens = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;  // even, <= 512
  std::int64_t block_size = 0;
  float eps = 1e-6f;
};

cudaError_t launch_qk_norm_rope(const QkNormRopeParams& p, cudaStream_t stream,
                                LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
