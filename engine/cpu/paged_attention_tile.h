// The tile loop every ISA path of paged_attention shares: walk the tile's keys
// in chunks of kAttentionKeyChunk and let every query row (token x query head
// of the group) that reaches the chunk take one online-softmax step on it.
// The loop rounds each query row to bf16 once per tile, finds each chunk's K
// rows (read in place where they are consecutive cache rows, else gathered
// into scratch) and lays its V rows out in key pairs once for all the tile's
// rows (or, see kValuesInPlace, hands them over as they are).
// `Ops` supplies the arithmetic, on dim = head_dim rounded up to 32:
//   interleave_values(v_rows[kAttentionKeyChunk] (nullptr: a zero row),
//                     head_dim, dim, pairs bf16 [kAttentionKeyChunk / 2][dim][2])
//   step(q bf16 [dim], dim, k bf16 [kAttentionKeyChunk][dim], ChunkValues,
//        valid, scale, m, l, o [dim])
//   finish(l, o, head_dim, out)
// where o is the Ops' own layout of a row's dim outputs; and, where
// kStepsPairs is true,
//   step_pair(PairedRows, dim, k, ChunkValues, valid, scale)
// for two query rows of one token at once, rounding exactly as two steps.
// Ops with kValuesInPlace = true are handed a lone token's values as cache
// rows (ChunkValues::rows) where its keys are read in place: laying the
// values out in pairs costs more than it saves when one token reads them.
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

#include "base/bf16.h"
#include "engine/cpu/paged_attention.h"

namespace pagoda::cpu {
namespace {  // one copy per translation unit: each ISA's file compiles its own

// bf16 elements per 64-byte cache line.
inline constexpr std::int64_t kLineElements = 64 / sizeof(std::uint16_t);

// Elements per row of the steps' operands: one 512-bit vector holds 32 bf16.
inline std::int64_t padded_head_dim(std::int64_t head_dim) {
  return (head_dim + 31) / 32 * 32;
}

// Offset (elements) of key `pos` of `kv_head` in either cache.
inline std::int64_t kv_offset(const std::int32_t* block_table, std::int64_t pos, std::int64_t kv_head,
                              const PagedAttentionParams& p) {
  const std::int64_t block = block_table[pos / p.block_size];
  return ((block * p.num_kv_heads + kv_head) * p.block_size + pos % p.block_size) * p.head_dim;
}

// Two query rows of one token (two heads of its group), stepped together over
// one chunk: row r reads q[r] [dim] (bf16) and updates m[r], l[r]
// [kAttentionKeyChunk] and o[r] [dim].
struct PairedRows {
  const std::uint16_t* q[2];
  float* m[2];
  float* l[2];
  float* o[2];
};

// A chunk's values as a step reads them: laid out in key pairs by
// interleave_values, or the chunk's consecutive cache rows
// [kAttentionKeyChunk][head_dim] (rows at and past a step's `valid` may hold
// anything, NaN included).
struct ChunkValues {
  const std::uint16_t* pairs = nullptr;
  const std::uint16_t* rows = nullptr;  // when pairs is nullptr
};

// Per-thread state of one tile: reused across calls, so no allocation per task
// once warm.
struct AttentionScratch {
  std::vector<std::uint16_t> q;      // [rows, dim] the tile's query rows in bf16, zero padded
  std::vector<std::uint16_t> k;      // [kAttentionKeyChunk, dim] a gathered chunk of keys
  std::vector<std::uint16_t> pairs;  // [kAttentionKeyChunk / 2, dim, 2] the chunk's values in key pairs
  std::vector<float> o;              // [rows, dim] unnormalised outputs
  std::vector<float> l;              // [rows, kAttentionKeyChunk] lane-wise softmax denominators
  std::vector<float> m;              // [rows] running maxima
};

// Offsets (elements, in either cache) of the rows of keys [c0, c0 + num_keys)
// of `kv_head`, following the block table across block boundaries; -1 past
// num_keys.
inline void chunk_rows(const PagedAttentionParams& p, const std::int32_t* table, std::int64_t c0,
                       std::int64_t num_keys, std::int64_t kv_head,
                       std::int64_t (&rows)[kAttentionKeyChunk]) {
  std::int64_t offset = kv_offset(table, c0, kv_head, p);
  std::int64_t slot = c0 % p.block_size;
  for (std::int64_t j = 0; j < kAttentionKeyChunk; ++j) {
    if (j >= num_keys) {
      rows[j] = -1;
      continue;
    }
    rows[j] = offset;
    if (++slot == p.block_size && j + 1 < num_keys) {
      slot = 0;
      offset = kv_offset(table, c0 + j + 1, kv_head, p);
    } else {
      offset += p.head_dim;
    }
  }
}

template <class Ops>
void attend_tile_with(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head) {
  constexpr std::int64_t kChunk = kAttentionKeyChunk;
  thread_local AttentionScratch s;
  const std::int64_t group = p.num_heads / p.num_kv_heads, hd = p.head_dim, dim = padded_head_dim(hd);
  const std::int64_t rows = tile.num_tokens * group;
  s.q.assign(static_cast<std::size_t>(rows * dim), 0);
  for (std::int64_t row = 0; row < rows; ++row) {
    const float* q =
        p.q + ((tile.first_token + row / group) * p.num_heads + kv_head * group + row % group) * hd;
    for (std::int64_t d = 0; d < hd; ++d)
      s.q[static_cast<std::size_t>(row * dim + d)] = f32_to_bf16(q[d]);
  }
  s.k.resize(static_cast<std::size_t>(kChunk * dim));  // unused by chunks read in place
  s.pairs.resize(static_cast<std::size_t>(kChunk * dim));
  s.o.assign(static_cast<std::size_t>(rows * dim), 0.0f);
  s.l.assign(static_cast<std::size_t>(rows * kChunk), 0.0f);
  s.m.assign(static_cast<std::size_t>(rows), -std::numeric_limits<float>::infinity());
  const std::int32_t* table = p.block_tables[tile.first_token];
  const std::int64_t last_ctx =
      static_cast<std::int64_t>(p.positions[tile.first_token + tile.num_tokens - 1]) + 1;
  // A chunk of 16 consecutive cache rows of a whole number of vectors is read in place.
  const bool k_in_place = dim == hd && p.block_size % kChunk == 0;
  std::int64_t at[kChunk], next_at[kChunk];  // row offsets of this chunk and the next
  chunk_rows(p, table, 0, std::min(kChunk, last_ctx), kv_head, at);
  for (std::int64_t c0 = 0; c0 < last_ctx; c0 += kChunk) {
    if (c0 + kChunk < last_ctx) {
      // Ask for the next chunk's rows now: they sit in another block, or 4 KiB
      // on in this one, where the hardware prefetchers do not look. (Written
      // out here: GCC deems a function that only prefetches free of side
      // effects and deletes its calls.)
      chunk_rows(p, table, c0 + kChunk, std::min(kChunk, last_ctx - c0 - kChunk), kv_head, next_at);
      for (std::int64_t j = 0; j < kChunk && next_at[j] >= 0; ++j) {
        for (std::int64_t e = 0; e < hd; e += kLineElements) {
          __builtin_prefetch(p.k_cache + next_at[j] + e);
          __builtin_prefetch(p.v_cache + next_at[j] + e);
        }
      }
    }
    const std::int64_t offset = at[0];
    const std::uint16_t* k = p.k_cache + offset;
    if (!k_in_place) {
      for (std::int64_t j = 0; j < kChunk; ++j) {
        std::uint16_t* dst = s.k.data() + j * dim;
        if (at[j] >= 0) std::copy(p.k_cache + at[j], p.k_cache + at[j] + hd, dst);
        std::fill(dst + (at[j] >= 0 ? hd : 0), dst + dim, std::uint16_t{0});
      }
      k = s.k.data();
    }
    ChunkValues values;
    if (Ops::kValuesInPlace && k_in_place && tile.num_tokens == 1) {
      values.rows = p.v_cache + offset;
    } else {
      const std::uint16_t* v_rows[kChunk];
      for (std::int64_t j = 0; j < kChunk; ++j)
        v_rows[j] = at[j] >= 0 ? p.v_cache + at[j] : nullptr;
      Ops::interleave_values(v_rows, hd, dim, s.pairs.data());
      values.pairs = s.pairs.data();
    }
    for (std::int64_t i = 0; i < tile.num_tokens; ++i) {
      const std::int64_t t = tile.first_token + i;
      const std::int64_t ctx = static_cast<std::int64_t>(p.positions[t]) + 1;
      if (c0 >= ctx) continue;
      const std::int64_t valid = std::min(kChunk, ctx - c0);
      std::int64_t g = 0;
      if constexpr (Ops::kStepsPairs) {
        // Heads of the group in pairs: one pass over the chunk's rows for two.
        for (; g + 2 <= group; g += 2) {
          PairedRows pair;
          for (std::int64_t r = 0; r < 2; ++r) {
            const std::int64_t row = i * group + g + r;
            pair.q[r] = s.q.data() + row * dim;
            pair.m[r] = &s.m[static_cast<std::size_t>(row)];
            pair.l[r] = s.l.data() + row * kChunk;
            pair.o[r] = s.o.data() + row * dim;
          }
          Ops::step_pair(pair, dim, k, values, valid, p.scale);
        }
      }
      for (; g < group; ++g) {
        const std::int64_t row = i * group + g;
        Ops::step(s.q.data() + row * dim, dim, k, values, valid, p.scale, &s.m[static_cast<std::size_t>(row)],
                  s.l.data() + row * kChunk, s.o.data() + row * dim);
      }
    }
    std::copy(std::begin(next_at), std::end(next_at), std::begin(at));
  }
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t t = tile.first_token + row / group;
    float* out = p.out + (t * p.num_heads + kv_head * group + row % group) * hd;
    Ops::finish(s.l.data() + row * kChunk, s.o.data() + row * dim, hd, out);
  }
}

}  // namespace
}  // namespace pagoda::cpu
