// Causal GQA attention of prefill chunks over the paged KV cache on tensor
// cores (flash-attention 2: bf16 mma.sync, online softmax in f32). The caller
// cuts each sequence's chunk of query rows into tiles of up to 64 consecutive
// rows; one CTA attends one tile for one query head, or for several query
// heads of one KV head (heads_per_tile). Stream-ordered; no host sync. Decode
// tokens are better served by launch_paged_attention (split-KV), except where
// their bits must not depend on the batch (the batch-invariant mode).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

constexpr int kPrefillTileRows = 64;

// One tile = up to kPrefillTileRows consecutive query rows of ONE sequence, at
// consecutive positions; row i of the tile (step row first_row + i) is at
// position first_position + i and attends causally to positions
// 0..first_position + i of its sequence, read through the sequence's block table.
struct PrefillTile {
  std::int32_t first_row;           // row in q / out
  std::int32_t num_rows;            // 1..kPrefillTileRows
  std::int32_t first_position;      // >= 0
  std::int32_t block_table_offset;  // start of the sequence's table in block_tables
};

struct PrefillAttentionParams {
  const float* q = nullptr;      // [num_tokens, num_heads, head_dim] f32 (normed, rotated; NOT yet scaled)
  std::uint16_t* out = nullptr;  // [num_tokens, num_heads * head_dim] bf16
  const std::uint16_t* k_cache = nullptr;      // [num_blocks, num_kv_heads, block_size, head_dim] bf16
  const std::uint16_t* v_cache = nullptr;      // same layout
  const std::int32_t* block_tables = nullptr;  // all sequences' tables concatenated
  const PrefillTile* tiles = nullptr;          // [num_tiles] (device memory)
  std::int64_t num_tiles = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0, block_size = 0;
  float scale = 1.0f;  // head_dim^-0.5
  // Query rows per warp: 16 (four warps per tile, 64-position KV stages) or,
  // for head_dim <= 128, 32 (two warps, 32-position stages: each K and V
  // fragment feeds two mma). The same function either way; the rounding of
  // the online softmax differs with the KV stage size.
  int warp_rows = 16;
  // Query heads per CTA, all of one KV head (1: one head, a CTA row per
  // token). With h > 1 a CTA's rows are (token, head) pairs, token-major —
  // row r is token r / h, head first + r % h — so a tile of n tokens fills n x h
  // rows, and the KV tiles it stages serve all h heads. A row's result is the
  // same bits whatever h and whatever else its tile holds (each row's online
  // softmax sees the same key tiles, fixed by absolute position, and a key
  // tile wholly masked for it changes nothing), so one-token decode tiles
  // packed by heads equal the same tokens inside one-head prefill tiles.
  int heads_per_tile = 1;
  // Fixed-position KV splits (the batch-invariant mode's long contexts):
  // with kv_split > 0 (a multiple of kPrefillKvSplitUnit) a row's online
  // softmax restarts at every multiple of kv_split positions, and the splits'
  // (max, sum, O) fold into the row's total in ascending order by one fixed
  // rule — the same bits whether one CTA runs every split of a row or
  // split_slots CTAs run them apart. 0: one pass over the whole context.
  int kv_split = 0;
  // Splits run apart (kv_split > 0, partial_out set): grid y = split_slots,
  // CTA y taking splits y, y + split_slots, ...; each writes its rows' split
  // state, then a second kernel folds them and writes out. The caller's
  // workspace must hold max_splits >= ceil(context / kv_split) splits per
  // (row, head) of every tile (splits past max_splits are not computed).
  float* partial_out = nullptr;  // [num_tokens, num_heads, max_splits, head_dim] O, not normalised
  float* partial_max = nullptr;  // [num_tokens, num_heads, max_splits] raw score max
  float* partial_sum = nullptr;  // [num_tokens, num_heads, max_splits]
  int max_splits = 0;
  int split_slots = 1;
};

// kv_split must be a multiple of this (the KV stage sizes divide it).
constexpr int kPrefillKvSplitUnit = 64;

// head_dim in {32, 64, 128, 256}; warp_rows 16, or 32 with head_dim <= 128;
// num_heads % num_kv_heads == 0; heads_per_tile a power of two, at most
// kPrefillTileRows, dividing num_heads / num_kv_heads; kv_split 0, or a
// positive multiple of kPrefillKvSplitUnit with warp_rows 16 and head_dim <=
// 128 (and with partial_out: the other partial pointers, max_splits >= 1 and
// split_slots in 1..max_splits); block_size >= 1; q, out, k_cache and v_cache
// 16-byte aligned (cudaMalloc'd buffers and per-layer slices of them are).
// cudaErrorInvalidValue for anything else, before any CUDA call. Writes only
// the rows covered by tiles; a tile with num_rows outside 1..kPrefillTileRows /
// heads_per_tile or a negative first_position is skipped.
// Q and the softmax weights are rounded to bf16 for the tensor cores, so the
// result differs from launch_paged_attention's (f32 dot products) by ~1e-3
// relative.
cudaError_t launch_prefill_attention(const PrefillAttentionParams& p, cudaStream_t stream,
                                     LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
