// Causal GQA attention of query tokens over the paged KV cache, split-KV
// (flash-decoding): each (token, KV head, split) block attends the query heads
// of one KV head to one range of context positions with an online softmax,
// and a combine pass merges the splits. Handles decode and prefill tokens of
// any mix of sequences in one launch, any block size. Token t at position p
// attends to positions 0..p of its own sequence. Stream-ordered; no host sync.
//
// Limits: head_dim % 32 == 0 and <= 256; num_heads % num_kv_heads == 0, group
// (num_heads / num_kv_heads) <= 16 and group * head_dim <= 4096; block_size
// in 1..2^30 (block-table arithmetic is 32-bit).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct PagedAttentionParams {
  const float* q = nullptr;                           // [num_tokens, num_heads, head_dim], normed and rotated
  std::uint16_t* out = nullptr;                       // [num_tokens, num_heads * head_dim] bf16
  const std::uint16_t* k_cache = nullptr;             // [num_blocks, num_kv_heads, block_size, head_dim] bf16
  const std::uint16_t* v_cache = nullptr;             // same layout
  const std::int32_t* positions = nullptr;            // [num_tokens]
  const std::int32_t* block_tables = nullptr;         // every sequence's table, concatenated
  const std::int32_t* block_table_offsets = nullptr;  // [rows] start of each row's table
  // The rows to compute: work item i is row token_rows[i] of q, out,
  // positions and block_table_offsets; null means rows 0..num_tokens-1.
  const std::int32_t* token_rows = nullptr;
  // Workspace (paged_attention_workspace_floats): per (work item, head, split).
  float* partial_out = nullptr;  // [num_tokens, num_heads, num_splits, head_dim]
  float* partial_max = nullptr;  // [num_tokens, num_heads, num_splits]
  float* partial_sum = nullptr;  // [num_tokens, num_heads, num_splits]
  std::int64_t num_tokens = 0;   // work items
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t block_size = 0;
  // Context positions [s * split_size, (s + 1) * split_size) belong to split s;
  // num_splits * split_size must cover the longest context in the launch.
  // num_splits is the grid's and the workspace's extent; splits past a row's
  // context exit at once.
  std::int64_t num_splits = 1;
  std::int64_t split_size = 0;
  // When set, split_size is read from this device int32 instead (a replayed
  // CUDA graph keeps its grid, while each step's contexts set the split size).
  const std::int32_t* split_size_on_device = nullptr;
  float scale = 1.0f;  // head_dim^-0.5
};

// Floats of workspace the three partial arrays need, laid out back to back
// (partial_out, then partial_max, then partial_sum).
std::int64_t paged_attention_workspace_floats(std::int64_t num_tokens, std::int64_t num_heads,
                                              std::int64_t num_splits, std::int64_t head_dim);

// Checks the limits above; cudaErrorInvalidValue when a shape is unsupported.
cudaError_t launch_paged_attention(const PagedAttentionParams& p, cudaStream_t stream,
                                   LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
