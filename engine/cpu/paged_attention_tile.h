// The tile loop every ISA path of paged_attention shares: walk the tile's keys
// in chunks of kAttentionKeyChunk and let every query row (token x query head
// of the group) that reaches the chunk take one online-softmax step on it.
// The loop copies each query row (bf16) once per tile, finds each chunk's
// keys run by run (a run of kAttentionKeyRun keys read in place where it lies
// in one block, else gathered into scratch in the same transposed layout)
// and lays its V rows out in key pairs once for all the tile's rows (or, see
// kValuesInPlace, hands them over as they are).
// `Ops` supplies the arithmetic, on dim = head_dim rounded up to 32:
//   interleave_values(v_rows[kAttentionKeyChunk] (nullptr: a zero row),
//                     head_dim, dim, num_keys,
//                     pairs bf16 [kAttentionKeyChunk / 2][dim][2])
//     lays out the first num_keys (a multiple of kAttentionKeyRun) rows
//   step_rows(ChunkRows, dim, ChunkKeys, ChunkValues, ChunkAhead, scale)
//     one online-softmax step of every row that sees the chunk, each row's
//     arithmetic that of the scalar specification's step (ChunkAhead: what
//     to ask the cache for meanwhile)
//   finish(l, o, head_dim, out)
// where o is the Ops' own layout of a row's dim outputs.
// Ops with kValuesInPlace = true are handed a lone token's values as cache
// rows (ChunkValues::runs) where its keys are read in place:
// laying the values out in pairs costs more than it saves when one token
// reads them.
// Keys past `valid` are whatever the chunk holds (zero, another position's
// future, or — read in place — not yet written: NaN in the tests): the step
// must keep them out of every result. Included by one file per ISA, each of
// which instantiates it in its own namespace.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <vector>

#include "engine/cpu/cpu_ops.h"
#include "engine/cpu/paged_attention.h"

namespace pagoda::cpu {
namespace {  // one copy per translation unit: each ISA's file compiles its own

// bf16 elements per 64-byte cache line.
inline constexpr std::int64_t kLineElements = 64 / sizeof(std::uint16_t);

// Elements per row of the steps' operands: one 512-bit vector holds 32 bf16.
inline std::int64_t padded_head_dim(std::int64_t head_dim) {
  return (head_dim + 31) / 32 * 32;
}

// Offset (elements) in the V cache of the row of key `pos` of `kv_head`.
inline std::int64_t v_row(const std::int32_t* block_table, std::int64_t pos, std::int64_t kv_head,
                          const PagedAttentionParams& p) {
  return v_cache_offset(block_table[pos / p.block_size], kv_head, pos % p.block_size, 0, p.num_kv_heads,
                        p.head_dim, p.block_size);
}

// Dimensions (0, 1) of the key at position `pos` in the K cache, given the
// offset of its V row (v_row): the start of its pairs, 2 * block_size
// elements apart.
inline const std::uint16_t* k_pairs(const PagedAttentionParams& p, std::int64_t row, std::int64_t pos) {
  const std::int64_t slot = pos % p.block_size;
  return p.k_cache + row - slot * p.head_dim + 2 * slot;
}

// A chunk's keys as a step reads them, run by run, each run transposed by
// pairs of dimensions: element d of key j at
// runs[j / kAttentionKeyRun][(d / 2) * pair_stride + 2 * (j % kAttentionKeyRun) + d % 2],
// for d < 2 * num_pairs (= head_dim). Only the first num_runs runs hold a key
// any row of the step sees.
struct ChunkKeys {
  const std::uint16_t* runs[kAttentionRunsPerChunk] = {};
  std::int64_t pair_stride = 0;
  std::int64_t num_pairs = 0;
  std::int64_t num_runs = 0;
};

// The query rows that see one chunk: tokens [0, num_tokens) of a tile's
// suffix, each with `group` consecutive rows (its heads of one KV head), row r
// belonging to token r / group. Row r reads q [r * dim, +dim) (bf16) and
// updates m[r], l [r * kAttentionKeyRun, +kAttentionKeyRun) (lane-wise
// softmax denominators) and o [r * dim, +dim); its token sees the chunk's
// first valid[r / group] keys (1..kAttentionKeyChunk).
struct ChunkRows {
  const std::uint16_t* q = nullptr;
  float* m = nullptr;
  float* l = nullptr;
  float* o = nullptr;
  const std::int64_t* valid = nullptr;
  std::int64_t num_tokens = 0;
  std::int64_t group = 0;
};

// A chunk's values as a step reads them: laid out in key pairs by
// interleave_values, or (when pairs is nullptr) run by run as the cache holds
// them, kAttentionKeyRun consecutive rows of head_dim each (rows at and past
// a step's `valid` may hold anything, NaN included).
struct ChunkValues {
  const std::uint16_t* pairs = nullptr;
  const std::uint16_t* runs[kAttentionRunsPerChunk] = {};
};

// The next chunk's keys and values, for the step to ask for while it works
// on this one, in step with its own reads (asking for a whole chunk at once
// made batched decode 10-25 % slower; docs/performance.md): the first pair of
// each of its in-place K runs (nullptr: none, or gathered) and each key's V
// row (nullptr: none).
struct ChunkAhead {
  const std::uint16_t* k_runs[kAttentionRunsPerChunk] = {};
  std::int64_t k_pair_stride = 0;
  const std::uint16_t* v_rows[kAttentionKeyChunk] = {};
};

// Per-thread state of one tile: reused across calls, so no allocation per task
// once warm.
struct AttentionScratch {
  std::vector<std::uint16_t> q;      // [rows, dim] the tile's query rows in bf16, zero padded
  std::vector<std::uint16_t> k;      // [runs][head_dim / 2][kAttentionKeyRun][2] a gathered chunk of keys
  std::vector<std::uint16_t> pairs;  // [kAttentionKeyChunk / 2, dim, 2] the chunk's values in key pairs
  std::vector<float> o;              // [rows, dim] unnormalised outputs
  std::vector<float> l;              // [rows, kAttentionKeyRun] lane-wise softmax denominators
  std::vector<float> m;              // [rows] running maxima
  std::vector<std::int64_t> valid;   // [tokens] keys of the current chunk each token sees
  std::vector<float> out_row;        // [head_dim] a finished row on its way to bf16
};

// Offsets (elements, in the V cache) of the rows of keys [c0, c0 + num_keys)
// of `kv_head`, following the block table across block boundaries; -1 past
// num_keys.
inline void chunk_rows(const PagedAttentionParams& p, const std::int32_t* table, std::int64_t c0,
                       std::int64_t num_keys, std::int64_t kv_head,
                       std::int64_t (&rows)[kAttentionKeyChunk]) {
  std::int64_t offset = v_row(table, c0, kv_head, p);
  std::int64_t slot = c0 % p.block_size;
  for (std::int64_t j = 0; j < kAttentionKeyChunk; ++j) {
    if (j >= num_keys) {
      rows[j] = -1;
      continue;
    }
    rows[j] = offset;
    if (++slot == p.block_size && j + 1 < num_keys) {
      slot = 0;
      offset = v_row(table, c0 + j + 1, kv_head, p);
    } else {
      offset += p.head_dim;
    }
  }
}

template <class Ops>
void attend_tile_with(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head) {
  constexpr std::int64_t kChunk = kAttentionKeyChunk, kRun = kAttentionKeyRun;
  thread_local AttentionScratch s;
  const std::int64_t group = p.num_heads / p.num_kv_heads, hd = p.head_dim, dim = padded_head_dim(hd);
  const std::int64_t rows = tile.num_tokens * group;
  s.q.assign(static_cast<std::size_t>(rows * dim), 0);
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::uint16_t* q =
        p.q + ((tile.first_token + row / group) * p.num_heads + kv_head * group + row % group) * hd;
    std::copy(q, q + hd, s.q.data() + row * dim);
  }
  s.k.resize(static_cast<std::size_t>(kChunk * hd));  // unused by runs read in place
  s.pairs.resize(static_cast<std::size_t>(kChunk * dim));
  s.o.assign(static_cast<std::size_t>(rows * dim), 0.0f);
  s.l.assign(static_cast<std::size_t>(rows * kRun), 0.0f);
  s.m.assign(static_cast<std::size_t>(rows), -std::numeric_limits<float>::infinity());
  s.valid.resize(static_cast<std::size_t>(tile.num_tokens));
  s.out_row.resize(static_cast<std::size_t>(hd));
  const std::int32_t* table = p.block_tables[tile.first_token];
  const std::int64_t last_ctx =
      static_cast<std::int64_t>(p.positions[tile.first_token + tile.num_tokens - 1]) + 1;
  // A run within one block is read in place: its keys' pairs of dimensions
  // are runs of 16 (64 bytes) 2 * block_size elements apart; so are its
  // values' rows, as whole vectors, where dim is head_dim.
  const bool k_in_place = p.block_size % kRun == 0;
  const bool v_in_place = k_in_place && dim == hd;
  std::int64_t at[kChunk], next_at[kChunk] = {};  // V row offsets of this chunk and the next
  chunk_rows(p, table, 0, std::min(kChunk, last_ctx), kv_head, at);
  for (std::int64_t c0 = 0; c0 < last_ctx; c0 += kChunk) {
    const std::int64_t num_keys = std::min(kChunk, last_ctx - c0);
    // The next chunk's keys and values sit in other blocks, or 4 KiB on in
    // this one, where the hardware prefetchers do not look: the step asks.
    ChunkAhead ahead;
    if (c0 + kChunk < last_ctx) {
      const std::int64_t next_keys = std::min(kChunk, last_ctx - c0 - kChunk);
      chunk_rows(p, table, c0 + kChunk, next_keys, kv_head, next_at);
      if (k_in_place) {
        ahead.k_pair_stride = 2 * p.block_size;
        for (std::int64_t j = 0; j < next_keys; j += kRun)
          ahead.k_runs[j / kRun] = k_pairs(p, next_at[j], c0 + kChunk + j);
      }
      for (std::int64_t j = 0; j < next_keys; ++j)
        ahead.v_rows[j] = p.v_cache + next_at[j];
    }
    // The tokens that see this chunk are a suffix of the tile (positions rise
    // by one); the last sees the most keys.
    std::int64_t first = 0;
    while (p.positions[tile.first_token + first] < c0)
      ++first;
    for (std::int64_t i = first; i < tile.num_tokens; ++i)
      s.valid[static_cast<std::size_t>(i)] =
          std::min(kChunk, static_cast<std::int64_t>(p.positions[tile.first_token + i]) + 1 - c0);
    const std::int64_t most = s.valid[static_cast<std::size_t>(tile.num_tokens - 1)];
    ChunkKeys k;
    k.num_pairs = hd / 2;
    k.num_runs = (most + kRun - 1) / kRun;
    if (k_in_place) {
      k.pair_stride = 2 * p.block_size;
      for (std::int64_t r = 0; r < k.num_runs; ++r)
        k.runs[r] = k_pairs(p, at[r * kRun], c0 + r * kRun);
    } else {
      k.pair_stride = 2 * kRun;
      for (std::int64_t r = 0; r < k.num_runs; ++r) {
        std::uint16_t* run = s.k.data() + r * kRun * hd;
        k.runs[r] = run;
        for (std::int64_t j = 0; j < kRun; ++j) {
          const std::int64_t key = r * kRun + j;
          const std::uint16_t* src = key < num_keys ? k_pairs(p, at[key], c0 + key) : nullptr;
          for (std::int64_t pair = 0; pair < hd / 2; ++pair) {
            std::uint16_t* dst = run + (pair * kRun + j) * 2;
            dst[0] = src != nullptr ? src[pair * 2 * p.block_size] : std::uint16_t{0};
            dst[1] = src != nullptr ? src[pair * 2 * p.block_size + 1] : std::uint16_t{0};
          }
        }
      }
    }
    ChunkValues values;
    if (Ops::kValuesInPlace && v_in_place && tile.num_tokens == 1) {
      for (std::int64_t r = 0; r < k.num_runs; ++r)
        values.runs[r] = p.v_cache + at[r * kRun];
    } else {
      const std::uint16_t* v_rows[kChunk];
      for (std::int64_t j = 0; j < kChunk; ++j)
        v_rows[j] = j < k.num_runs * kRun && at[j] >= 0 ? p.v_cache + at[j] : nullptr;
      Ops::interleave_values(v_rows, hd, dim, k.num_runs * kRun, s.pairs.data());
      values.pairs = s.pairs.data();
    }
    ChunkRows active;
    active.q = s.q.data() + first * group * dim;
    active.m = s.m.data() + first * group;
    active.l = s.l.data() + first * group * kRun;
    active.o = s.o.data() + first * group * dim;
    active.valid = s.valid.data() + first;
    active.num_tokens = tile.num_tokens - first;
    active.group = group;
    Ops::step_rows(active, dim, k, values, ahead, p.scale);
    std::copy(std::begin(next_at), std::end(next_at), std::begin(at));
  }
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t t = tile.first_token + row / group;
    const std::int64_t out_at = (t * p.num_heads + kv_head * group + row % group) * hd;
    if (p.out_bf16 == nullptr) {
      Ops::finish(s.l.data() + row * kRun, s.o.data() + row * dim, hd, p.out + out_at);
    } else {  // rounded while the row is in L1 (o_proj reads it in bf16)
      Ops::finish(s.l.data() + row * kRun, s.o.data() + row * dim, hd, s.out_row.data());
      f32_to_bf16_row(s.out_row.data(), hd, p.out_bf16 + out_at);
    }
  }
}

}  // namespace
}  // namespace pagoda::cpu
