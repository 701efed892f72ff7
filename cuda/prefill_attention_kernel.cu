// Flash-attention 2 over the paged KV cache with mma.sync (sm_80+).
//
// One CTA = one tile of up to 64 query rows x one query head, or up to 64 /
// h tokens x h heads of one KV head (PrefillAttentionParams::heads_per_tile:
// rows token-major, each row its own (token, head)); 4 warps, each
// owning 16 rows (one m-tile), or 2 warps owning 32 (two m-tiles: each K and V
// fragment feeds twice the mma, PrefillAttentionParams::warp_rows). The
// tile's Q (scaled, bf16) stays in shared memory; K and V
// tiles of kKvTile positions stream through a two-stage cp.async pipeline,
// gathered through the block table (positions past the context zero-filled,
// never read from the cache). Per KV tile each warp computes S = Q K^T
// (m16n8k16, f32 accumulators), masks positions after each row's own, updates
// its rows' running max and sum, and accumulates O += P V with P rounded to
// bf16 straight from the S accumulators (the m16n8 C layout of two adjacent
// n-tiles is the m16k16 A layout). O stays in registers; at the end it is
// divided by the row sums, staged through the warp's own Q rows in shared
// memory and written as 16-byte rows. Fragment layouts: cuda/warp_mma.cuh.
#include <cmath>

#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"
#include "cuda/prefill_attention_kernel.h"
#include "cuda/warp_mma.cuh"

namespace pagoda::cuda {
namespace {

constexpr int kMmaRows = 16;  // the mma's M
// Shared rows are padded by 16 bytes so that the 8 rows an ldmatrix phase reads
// fall into 8 different 16-byte bank groups whatever the head_dim.
constexpr int kPad = 8;
constexpr float kLog2e = 1.4426950408889634f;

// kMTiles: m-tiles (16 query rows each) per warp, 1 or 2.
template <int kHeadDim, int kMTiles>
struct Shape {
  static constexpr int kWarpRows = kMmaRows * kMTiles;  // query rows per warp
  static constexpr int kWarps = kPrefillTileRows / kWarpRows;
  static constexpr int kThreads = kWarps * kWarpSize;
  // Positions per pipeline stage: two m-tiles keep two stages within a quarter
  // of a multiprocessor's shared memory (four blocks of two warps per SM).
  static constexpr int kKvTile = kHeadDim <= 128 && kMTiles == 1 ? 64 : 32;
  static constexpr int kStride = kHeadDim + kPad;  // bf16 per shared row
  static constexpr int kQElems = kPrefillTileRows * kStride;
  static constexpr int kKvElems = kKvTile * kStride;  // one K or V stage
  static constexpr int kSmemBytes = (kQElems + 4 * kKvElems) * 2;
  static constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per row
  static_assert(kKvTile * kChunks % kThreads == 0, "whole chunks per thread");
};

// A context position as (index into the block table, offset in that block).
// Moving it by a step made once with of() takes no division.
struct BlockCursor {
  int index = 0;
  int offset = 0;
  __device__ static BlockCursor of(int position, int block_size) {
    return {position / block_size, position % block_size};
  }
  __device__ void advance(const BlockCursor& step, int block_size) {
    index += step.index;
    offset += step.offset;  // both offsets < block_size: one carry at most
    if (offset >= block_size) {
      offset -= block_size;
      ++index;
    }
  }
};

// Two floats rounded to bf16, `lo` in the low half.
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
  return static_cast<unsigned>(f32_to_bf16_bits(lo)) | (static_cast<unsigned>(f32_to_bf16_bits(hi)) << 16);
}

// Whether the kernels take `tile` (1..kPrefillTileRows >> head_shift tokens
// at a position >= 0): the attention kernel and fold_splits_kernel skip the
// same tiles.
__device__ __forceinline__ bool tile_runs(const PrefillTile& tile, int head_shift) {
  return tile.num_rows >= 1 && tile.num_rows <= (kPrefillTileRows >> head_shift) && tile.first_position >= 0;
}

// A row's whole sum from its group's four lanes' parts (each lane of the group
// gets the same value).
__device__ __forceinline__ float row_group_sum(float part) {
  part += __shfl_xor_sync(0xffffffffu, part, 1);
  return part + __shfl_xor_sync(0xffffffffu, part, 2);
}

// An empty softmax state: O zero, max -inf, sum zero.
template <int kMTiles, int kNTiles>
__device__ __forceinline__ void clear_state(float (&o)[kMTiles][kNTiles][4], float (&max)[kMTiles][2],
                                            float (&sum)[kMTiles][2]) {
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int n = 0; n < kNTiles; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c)
        o[mt][n][c] = 0.0f;
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      max[mt][r] = -INFINITY;
      sum[mt][r] = 0.0f;
    }
  }
}

// Folding a KV split's softmax state into a row's total: total' = total * a
// + split * b for the sum and each O value, the max becoming the larger.
// The one rule both the attention kernel (splits run in one CTA) and
// fold_splits_kernel (splits run apart) apply, written with explicit
// roundings so that no FMA contraction can make them differ.
struct SplitFold {
  float a, b;
};

// For a split whose max is finite (one that held any position of the row).
__device__ __forceinline__ SplitFold fold_factors(float total_max, float split_max) {
  if (total_max == -INFINITY) return {0.0f, 1.0f};  // the first split
  const float mx = fmaxf(total_max, split_max);
  const float mx_log2 = __fmul_rn(mx, kLog2e);
  return {total_max == mx ? 1.0f : exp2f(__fmul_rn(total_max, kLog2e) - mx_log2),
          split_max == mx ? 1.0f : exp2f(__fmul_rn(split_max, kLog2e) - mx_log2)};
}

__device__ __forceinline__ float fold_value(float total, float split, SplitFold f) {
  return __fadd_rn(__fmul_rn(total, f.a), __fmul_rn(split, f.b));
}

// grid: num_tiles * num_heads / heads_per_tile CTAs (heads fastest, so the
// CTAs sharing a KV head, if heads_per_tile leaves more than one, run
// together and share its cache reads in L2; last tiles, the longest
// contexts, first) x p.split_slots when kSplit's splits run apart; block:
// Shape::kThreads; dynamic shared memory Shape::kSmemBytes. head_shift =
// log2(p.heads_per_tile). kSplit: p.kv_split > 0.
template <int kHeadDim, int kMTiles, bool kSplit>
__global__ void __launch_bounds__(Shape<kHeadDim, kMTiles>::kThreads)
    prefill_attention_kernel(PrefillAttentionParams p, int head_shift) {
  await_previous_grid();
  using S = Shape<kHeadDim, kMTiles>;
  constexpr int kThreads = S::kThreads;
  constexpr int kWarpRows = S::kWarpRows;
  constexpr int kKvTile = S::kKvTile;
  constexpr int kStride = S::kStride;
  constexpr int kChunks = S::kChunks;
  std::uint16_t* q_s = dynamic_shared_memory<std::uint16_t>();  // [kPrefillTileRows][kStride]
  std::uint16_t* k_s = q_s + S::kQElems;                        // [2][kKvTile][kStride]
  std::uint16_t* v_s = k_s + 2 * S::kKvElems;                   // [2][kKvTile][kStride]

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int num_heads = static_cast<int>(p.num_heads);
  const auto heads_slots = static_cast<unsigned>(num_heads >> head_shift);  // CTAs per tile
  const int head_mask = (1 << head_shift) - 1;
  const int first_head = static_cast<int>(blockIdx.x % heads_slots) << head_shift;
  const std::int64_t tile_index = p.num_tiles - 1 - static_cast<std::int64_t>(blockIdx.x / heads_slots);
  const PrefillTile tile = p.tiles[tile_index];
  if (!tile_runs(tile, head_shift)) return;
  const int num_rows = tile.num_rows << head_shift;  // CTA rows: (token, head) pairs, token-major
  // q / out row of CTA row r (< num_rows): [token, num_heads, head_dim] offsets.
  const auto row_offset = [&](int r) {
    const std::int64_t token = static_cast<std::int64_t>(tile.first_row) + (r >> head_shift);
    return (token * num_heads + first_head + (r & head_mask)) * kHeadDim;
  };
  const int kvh = first_head / static_cast<int>(p.num_heads / p.num_kv_heads);
  const int num_kv_heads = static_cast<int>(p.num_kv_heads);
  const int block_size = static_cast<int>(p.block_size);
  const std::int32_t* table = p.block_tables + tile.block_table_offset;
  const int ctx = tile.first_position + tile.num_rows;  // context of the tile's last token
  const int num_kv_tiles = (ctx + kKvTile - 1) / kKvTile;
  // KV splits (kSplit): p.kv_split positions each; this CTA runs splits
  // first_split, first_split + split_stride, ... below num_splits, in order.
  // One CTA runs all of a row's splits and folds them itself, or (with
  // partial_out) runs those of its grid row y and writes each one's state.
  int tiles_per_split = num_kv_tiles, first_split = 0, split_stride = 1, num_splits = 1;
  bool writes_partials = false;
  if constexpr (kSplit) {
    tiles_per_split = p.kv_split / kKvTile;
    num_splits = (num_kv_tiles + tiles_per_split - 1) / tiles_per_split;
    writes_partials = p.partial_out != nullptr;
    if (writes_partials) {
      first_split = static_cast<int>(blockIdx.y);
      split_stride = p.split_slots;
      num_splits = min(num_splits, p.max_splits);
    }
    if (first_split >= num_splits) return;
  }

  // Stage one KV tile: kKvTile rows of kChunks 16-byte chunks each for K and V;
  // consecutive threads take consecutive chunks of a row (coalesced), so each
  // thread copies one column chunk of rows first_r, first_r + kRowStep, ...
  // Tiles are staged in order 0, 1, 2, ...: `cursor` is at this thread's
  // first row of the next one.
  constexpr int kRowStep = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0 && kKvTile % kRowStep == 0, "whole rows per pass");
  const int first_r = tid / kChunks;
  const int chunk_col = (tid % kChunks) * 8;
  const BlockCursor row_step = BlockCursor::of(kRowStep, block_size);
  const BlockCursor tile_step = BlockCursor::of(kKvTile, block_size);
  BlockCursor cursor = BlockCursor::of(first_r + first_split * tiles_per_split * kKvTile, block_size);
  auto load_kv = [&](int kv_tile, int stage) {
    std::uint16_t* ks = k_s + stage * S::kKvElems;
    std::uint16_t* vs = v_s + stage * S::kKvElems;
    BlockCursor at = cursor;
#pragma unroll
    for (int it = 0; it < kKvTile / kRowStep; ++it) {
      const int r = first_r + it * kRowStep;
      const bool valid = kv_tile * kKvTile + r < ctx;
      std::int64_t offset = 0;
      if (valid) {
        const std::int64_t block = table[at.index];
        offset = ((block * num_kv_heads + kvh) * block_size + at.offset) * kHeadDim + chunk_col;
      }
      cp_async_16(ks + r * kStride + chunk_col, p.k_cache + offset, valid);
      cp_async_16(vs + r * kStride + chunk_col, p.v_cache + offset, valid);
      at.advance(row_step, block_size);
    }
    cursor.advance(tile_step, block_size);
  };

  load_kv(first_split * tiles_per_split, 0);
  cp_async_commit();

  // Q rows, scaled and rounded to bf16; rows past num_rows are zero.
  for (int i = tid; i < kPrefillTileRows * (kHeadDim / 4); i += kThreads) {
    const int r = i / (kHeadDim / 4);
    const int c = (i % (kHeadDim / 4)) * 4;
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < num_rows) v = *reinterpret_cast<const float4*>(p.q + row_offset(r) + c);
    uint2 packed;
    packed.x = pack_bf16(v.x * p.scale, v.y * p.scale);
    packed.y = pack_bf16(v.z * p.scale, v.w * p.scale);
    *reinterpret_cast<uint2*>(q_s + r * kStride + c) = packed;
  }

  const int g = lane / 4;  // the fragment rows g and g + 8 of this lane
  const int t = lane % 4;
  const int warp_row = warp * kWarpRows;
  const bool warp_active = warp_row < num_rows;
  // Position of CTA row r.
  const auto position_of = [&](int r) { return tile.first_position + (r >> head_shift); };
  const int warp_last_pos = position_of(min(warp_row + kWarpRows, num_rows) - 1);

  // Per m-tile mt (rows warp_row + 16 mt ...): O as n-tiles of 8 dims x C
  // fragment, and the running max (raw scores) and this lane's part of the
  // sum of rows g and g + 8.
  float o[kMTiles][kHeadDim / 8][4];
  float row_max[kMTiles][2], row_sum[kMTiles][2];
  clear_state(o, row_max, row_sum);

  // kSplit with the splits run here: the splits folded so far, per row as
  // above (t_sum the whole row's, the same in each lane of its group).
  float t_o[kMTiles][kHeadDim / 8][4];
  float t_max[kMTiles][2], t_sum[kMTiles][2];
  if constexpr (kSplit) clear_state(t_o, t_max, t_sum);
  // The warp's rows' state of `split` (just ended): folded into t_*, or
  // written to the partials; then emptied for the next split.
  const auto end_split = [&](int split) {
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float l = row_group_sum(row_sum[mt][r]);
        const float m = row_max[mt][r];
        const int row = warp_row + mt * kMmaRows + g + 8 * r;
        if (writes_partials) {
          if (row < num_rows) {
            // (token, head) of the row, then its split.
            const std::int64_t at = row_offset(row) / kHeadDim * p.max_splits + split;
            if (t == 0) {
              p.partial_max[at] = m;
              p.partial_sum[at] = l;
            }
#pragma unroll
            for (int n = 0; n < kHeadDim / 8; ++n)
              *reinterpret_cast<float2*>(p.partial_out + at * kHeadDim + n * 8 + 2 * t) =
                  make_float2(o[mt][n][2 * r], o[mt][n][2 * r + 1]);
          }
        } else if (m != -INFINITY) {
          const SplitFold f = fold_factors(t_max[mt][r], m);
          t_sum[mt][r] = fold_value(t_sum[mt][r], l, f);
#pragma unroll
          for (int n = 0; n < kHeadDim / 8; ++n) {
            t_o[mt][n][2 * r] = fold_value(t_o[mt][n][2 * r], o[mt][n][2 * r], f);
            t_o[mt][n][2 * r + 1] = fold_value(t_o[mt][n][2 * r + 1], o[mt][n][2 * r + 1], f);
          }
          t_max[mt][r] = fmaxf(t_max[mt][r], m);
        }
      }
    }
    clear_state(o, row_max, row_sum);
  };

  // Key tile j, staged in `stage`, into the warp's rows' running state.
  const auto attend = [&](int j, int stage) {
    const int kv0 = j * kKvTile;
    // Warp-uniform: warps whose rows all precede this tile skip it. A row's
    // first tile (0, or a split's first) is never skipped.
    if (warp_active && kv0 <= warp_last_pos) {
      const std::uint16_t* ks = k_s + stage * S::kKvElems;
      const std::uint16_t* vs = v_s + stage * S::kKvElems;

      // S = Q K^T: 16 rows x kKvTile positions per m-tile.
      float s[kMTiles][kKvTile / 8][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int n = 0; n < kKvTile / 8; ++n) {
#pragma unroll
          for (int c = 0; c < 4; ++c)
            s[mt][n][c] = 0.0f;
        }
      }
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        unsigned a[kMTiles][4];  // rows 0-7 / 8-15 x dims 0-7 / 8-15 of this k-step
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt)
          ldmatrix_x4(a[mt],
                      q_s + (warp_row + mt * kMmaRows + (lane & 15)) * kStride + kk * 16 + (lane >> 4) * 8);
#pragma unroll
        for (int nn = 0; nn < kKvTile / 16; ++nn) {
          // Matrices: (pos 0-7, dims 0-7), (pos 0-7, dims 8-15), (pos 8-15, dims
          // 0-7), (pos 8-15, dims 8-15): b0, b1 of n-tile 2nn, then of 2nn + 1.
          unsigned b[4];
          ldmatrix_x4(
              b, ks + (nn * 16 + (lane & 7) + (lane >> 4) * 8) * kStride + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
          for (int mt = 0; mt < kMTiles; ++mt) {
            mma_bf16(s[mt][2 * nn], a[mt], b[0], b[1]);
            mma_bf16(s[mt][2 * nn + 1], a[mt], b[2], b[3]);
          }
        }
      }

#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        const int mt_row = warp_row + mt * kMmaRows;
        // Causal mask (also hides the zero-filled positions past the context,
        // which lie after every row's own position).
        if (kv0 + kKvTile - 1 > position_of(mt_row)) {
          const int row_pos[2] = {position_of(mt_row + g), position_of(mt_row + g + 8)};
#pragma unroll
          for (int n = 0; n < kKvTile / 8; ++n) {
#pragma unroll
            for (int c = 0; c < 4; ++c) {
              const int pos = kv0 + n * 8 + 2 * t + (c & 1);
              if (pos > row_pos[c / 2]) s[mt][n][c] = -INFINITY;
            }
          }
        }

        // Online softmax; the 4 lanes of a group share rows g and g + 8.
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float mx = row_max[mt][r];
#pragma unroll
          for (int n = 0; n < kKvTile / 8; ++n)
            mx = fmaxf(mx, fmaxf(s[mt][n][2 * r], s[mt][n][2 * r + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float mx_log2 = mx == -INFINITY ? 0.0f : __fmul_rn(mx, kLog2e);  // never -inf - -inf
          // 0 on the first tile. A tile that raises no maximum of this row
          // (one wholly masked for it: a warp runs to its last row's position)
          // must leave O and the sum exactly as they were, so alpha is exactly
          // 1 then — not exp2f of the rounding error an FMA-contracted
          // `row_max * kLog2e - mx_log2` would leave — whatever tiles the
          // row's chunk gave its warp (the batch-invariant mode's promise).
          const float alpha =
              mx == row_max[mt][r] ? 1.0f : exp2f(__fmul_rn(row_max[mt][r], kLog2e) - mx_log2);
          row_max[mt][r] = mx;
          float sum = 0.0f;
#pragma unroll
          for (int n = 0; n < kKvTile / 8; ++n) {
#pragma unroll
            for (int c = 2 * r; c < 2 * r + 2; ++c) {
              s[mt][n][c] = exp2f(fmaf(s[mt][n][c], kLog2e, -mx_log2));
              sum += s[mt][n][c];
            }
          }
          row_sum[mt][r] = row_sum[mt][r] * alpha + sum;
#pragma unroll
          for (int n = 0; n < kHeadDim / 8; ++n) {
            o[mt][n][2 * r] *= alpha;
            o[mt][n][2 * r + 1] *= alpha;
          }
        }
      }

      // O += P V: P's k-step kk is S's n-tiles 2kk and 2kk + 1.
#pragma unroll
      for (int kk = 0; kk < kKvTile / 16; ++kk) {
        unsigned a[kMTiles][4];
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          a[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          a[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          a[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          a[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dn = 0; dn < kHeadDim / 16; ++dn) {
          // Transposed matrices: (pos 0-7, dims 0-7), (pos 8-15, dims 0-7),
          // (pos 0-7, dims 8-15), (pos 8-15, dims 8-15): b0, b1 of dim n-tile
          // 2dn, then of 2dn + 1.
          unsigned b[4];
          ldmatrix_x4_trans(b, vs + (kk * 16 + (lane & 15)) * kStride + dn * 16 + (lane >> 4) * 8);
#pragma unroll
          for (int mt = 0; mt < kMTiles; ++mt) {
            mma_bf16(o[mt][2 * dn], a[mt], b[0], b[1]);
            mma_bf16(o[mt][2 * dn + 1], a[mt], b[2], b[3]);
          }
        }
      }
    }
  };

  if constexpr (!kSplit) {
    for (int j = 0; j < num_kv_tiles; ++j) {
      // Prefetch tile j + 1 into the other stage (free since the barrier that
      // ended iteration j - 1), then wait for tile j's group.
      if (j + 1 < num_kv_tiles) load_kv(j + 1, (j + 1) % 2);
      cp_async_commit();
      cp_async_wait<1>();
      __syncthreads();
      attend(j, j % 2);
      __syncthreads();  // stage j % 2 is refilled by the next iteration's prefetch
    }
  } else {
    // Tiles in the order of this CTA's splits (a split's tiles in order). At
    // each split's end its state folds into t_* (or is written out) and
    // restarts empty. A split wholly masked for a row leaves its max -inf:
    // folding it would change nothing, so it is skipped.
    int split = first_split, j = first_split * tiles_per_split, stage = 0;
    while (true) {
      int next_split = split, next_j = j + 1;
      if (next_j == min((split + 1) * tiles_per_split, num_kv_tiles)) {
        next_split = split + split_stride;
        next_j = next_split < num_splits ? next_split * tiles_per_split : -1;
        // The loads so far left `cursor` at tile j + 1; a stride jumps.
        if (next_j >= 0 && split_stride > 1) cursor = BlockCursor::of(first_r + next_j * kKvTile, block_size);
      }
      if (next_j >= 0) load_kv(next_j, stage ^ 1);
      cp_async_commit();
      cp_async_wait<1>();
      __syncthreads();
      attend(j, stage);
      if (warp_active && next_split != split) end_split(split);
      __syncthreads();
      if (next_j < 0) break;
      split = next_split;
      j = next_j;
      stage ^= 1;
    }
    if (writes_partials) return;  // fold_splits_kernel writes out
  }
  if (!warp_active) return;  // no barrier follows

    // O / l in bf16 into the warp's own Q rows (no other warp reads them), then
    // out as 16-byte chunks, rows past num_rows left alone.
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
    float inv_sum[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      if constexpr (kSplit) {
        inv_sum[r] = 1.0f / t_sum[mt][r];
#pragma unroll
        for (int n = 0; n < kHeadDim / 8; ++n) {
          o[mt][n][2 * r] = t_o[mt][n][2 * r];
          o[mt][n][2 * r + 1] = t_o[mt][n][2 * r + 1];
        }
      } else {
        inv_sum[r] = 1.0f / row_group_sum(row_sum[mt][r]);
      }
    }
    const int row0 = warp_row + mt * kMmaRows + g;
#pragma unroll
    for (int n = 0; n < kHeadDim / 8; ++n) {
      const int col = n * 8 + 2 * t;
      *reinterpret_cast<unsigned*>(q_s + row0 * kStride + col) =
          pack_bf16(o[mt][n][0] * inv_sum[0], o[mt][n][1] * inv_sum[0]);
      *reinterpret_cast<unsigned*>(q_s + (row0 + 8) * kStride + col) =
          pack_bf16(o[mt][n][2] * inv_sum[1], o[mt][n][3] * inv_sum[1]);
    }
  }
  __syncwarp();
#pragma unroll
  for (int it = 0; it < kWarpRows * kChunks / kWarpSize; ++it) {
    const int i = lane + it * kWarpSize;
    const int r = warp_row + i / kChunks;
    const int c = (i % kChunks) * 8;
    if (r < num_rows)
      *reinterpret_cast<uint4*>(p.out + row_offset(r) + c) =
          *reinterpret_cast<const uint4*>(q_s + r * kStride + c);
  }
}

// Splits whose partials fold_splits_kernel loads before folding them.
constexpr int kFoldLoadsAhead = 4;

// grid: num_tiles * num_heads (head fastest); block: head_dim / 4 threads,
// each four dims of the CTA's head for every token of its tile. A (token,
// head)'s splits 0..position / kv_split as the attention kernel wrote them,
// folded in ascending order by the rule that kernel folds them by in one CTA,
// divided by the sum and written out in bf16.
template <int kHeadDim>
__global__ void __launch_bounds__(kHeadDim / 4) fold_splits_kernel(PrefillAttentionParams p, int head_shift) {
  await_previous_grid();
  const int num_heads = static_cast<int>(p.num_heads);
  const auto head = static_cast<int>(blockIdx.x % static_cast<unsigned>(num_heads));
  const PrefillTile tile = p.tiles[blockIdx.x / static_cast<unsigned>(num_heads)];
  if (!tile_runs(tile, head_shift)) return;
  const int d = static_cast<int>(threadIdx.x) * 4;
  for (int token = 0; token < tile.num_rows; ++token) {
    const std::int64_t pair = (static_cast<std::int64_t>(tile.first_row) + token) * num_heads + head;
    const float* max = p.partial_max + pair * p.max_splits;
    const float* sum = p.partial_sum + pair * p.max_splits;
    const float* out = p.partial_out + pair * p.max_splits * kHeadDim + d;
    const int splits = min((tile.first_position + token) / p.kv_split + 1, p.max_splits);
    float total_max = -INFINITY, total_sum = 0.0f, total[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int first = 0; first < splits; first += kFoldLoadsAhead) {
      // Loads of the next few splits first (independent of the fold), then
      // the fold, one split after another.
      float m[kFoldLoadsAhead], l[kFoldLoadsAhead];
      float4 v[kFoldLoadsAhead];
#pragma unroll
      for (int k = 0; k < kFoldLoadsAhead; ++k) {
        const int split = first + k;
        m[k] = split < splits ? max[split] : -INFINITY;
        l[k] = split < splits ? sum[split] : 0.0f;
        v[k] = split < splits ? *reinterpret_cast<const float4*>(out + split * kHeadDim)
                              : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      }
#pragma unroll
      for (int k = 0; k < kFoldLoadsAhead; ++k) {
        if (m[k] == -INFINITY) continue;  // past the splits, or one wholly masked
        const SplitFold f = fold_factors(total_max, m[k]);
        total_sum = fold_value(total_sum, l[k], f);
        total[0] = fold_value(total[0], v[k].x, f);
        total[1] = fold_value(total[1], v[k].y, f);
        total[2] = fold_value(total[2], v[k].z, f);
        total[3] = fold_value(total[3], v[k].w, f);
        total_max = fmaxf(total_max, m[k]);
      }
    }
    const float inv_sum = 1.0f / total_sum;
    uint2 packed;
    packed.x = pack_bf16(total[0] * inv_sum, total[1] * inv_sum);
    packed.y = pack_bf16(total[2] * inv_sum, total[3] * inv_sum);
    *reinterpret_cast<uint2*>(p.out + pair * kHeadDim + d) = packed;
  }
}

template <int kHeadDim, int kMTiles, bool kSplit>
cudaError_t launch_for_shape(const PrefillAttentionParams& p, cudaStream_t stream, LaunchOrder order) {
  using S = Shape<kHeadDim, kMTiles>;
  // Above 48 KB a kernel must opt in; per device, and cheap, so every launch does.
  if (S::kSmemBytes > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(prefill_attention_kernel<kHeadDim, kMTiles, kSplit>,
                                                 cudaFuncAttributeMaxDynamicSharedMemorySize, S::kSmemBytes);
    if (err != cudaSuccess) return err;
  }
  int head_shift = 0;
  while ((1 << head_shift) < p.heads_per_tile)
    ++head_shift;
  const bool apart = kSplit && p.partial_out != nullptr;
  const dim3 grid(static_cast<unsigned>(p.num_tiles * (p.num_heads >> head_shift)),
                  apart ? static_cast<unsigned>(p.split_slots) : 1u);
  const cudaError_t err = launch_kernel(prefill_attention_kernel<kHeadDim, kMTiles, kSplit>, grid,
                                        S::kThreads, S::kSmemBytes, stream, order, p, head_shift);
  if constexpr (kSplit) {
    if (err == cudaSuccess && apart) {
      return launch_kernel(fold_splits_kernel<kHeadDim>, static_cast<unsigned>(p.num_tiles * p.num_heads),
                           kHeadDim / 4, 0, stream, order, p, head_shift);
    }
  }
  return err;
}

template <int kHeadDim>
cudaError_t launch_for_head_dim(const PrefillAttentionParams& p, cudaStream_t stream, LaunchOrder order) {
  if constexpr (kHeadDim <= 128) {
    if (p.kv_split > 0) return launch_for_shape<kHeadDim, 1, true>(p, stream, order);
    if (p.warp_rows == 32) return launch_for_shape<kHeadDim, 2, false>(p, stream, order);
  }
  return launch_for_shape<kHeadDim, 1, false>(p, stream, order);
}

bool aligned_16(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0;
}

}  // namespace

cudaError_t launch_prefill_attention(const PrefillAttentionParams& p, cudaStream_t stream,
                                     LaunchOrder order) {
  if (p.num_tiles < 0) return cudaErrorInvalidValue;
  if (p.num_tiles == 0) return cudaSuccess;
  if (p.num_heads <= 0 || p.num_kv_heads <= 0 || p.num_heads % p.num_kv_heads != 0)
    return cudaErrorInvalidValue;
  if (p.block_size < 1 || p.block_size > (1 << 30)) return cudaErrorInvalidValue;
  if (p.num_heads > (1 << 16) || p.num_tiles * p.num_heads > 0x7fffffff) return cudaErrorInvalidValue;
  if (p.q == nullptr || p.out == nullptr || p.k_cache == nullptr || p.v_cache == nullptr ||
      p.block_tables == nullptr || p.tiles == nullptr)
    return cudaErrorInvalidValue;
  if (!aligned_16(p.q) || !aligned_16(p.out) || !aligned_16(p.k_cache) || !aligned_16(p.v_cache))
    return cudaErrorInvalidValue;
  if (p.warp_rows != 16 && (p.warp_rows != 32 || p.head_dim > 128)) return cudaErrorInvalidValue;
  const std::int64_t group = p.num_heads / p.num_kv_heads;
  if (p.heads_per_tile < 1 || p.heads_per_tile > kPrefillTileRows ||
      (p.heads_per_tile & (p.heads_per_tile - 1)) != 0 || group % p.heads_per_tile != 0)
    return cudaErrorInvalidValue;
  if (p.kv_split < 0 || (p.kv_split == 0 && p.partial_out != nullptr)) return cudaErrorInvalidValue;
  if (p.kv_split > 0) {
    if (p.kv_split % kPrefillKvSplitUnit != 0 || p.head_dim > 128 || p.warp_rows != 16)
      return cudaErrorInvalidValue;
    if (p.partial_out != nullptr &&
        (p.partial_max == nullptr || p.partial_sum == nullptr || !aligned_16(p.partial_out) ||
         p.max_splits < 1 || p.split_slots < 1 || p.split_slots > p.max_splits || p.split_slots > 65535))
      return cudaErrorInvalidValue;
  }
  switch (p.head_dim) {
    case 32:
      return launch_for_head_dim<32>(p, stream, order);
    case 64:
      return launch_for_head_dim<64>(p, stream, order);
    case 128:
      return launch_for_head_dim<128>(p, stream, order);
    case 256:
      return launch_for_head_dim<256>(p, stream, order);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace pagoda::cuda
