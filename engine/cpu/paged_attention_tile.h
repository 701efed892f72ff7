// The tile loop every ISA path of paged_attention shares: walk the tile's keys
// in chunks of kAttentionKeyChunk and let every query row (token x query head
// of the group) that reaches the chunk take one online-softmax step on it.
// `Ops` supplies the arithmetic:
//   widen(src bf16 [head_dim], head_dim, dim, dst f32 [dim])   (zero padded)
//   step(q, head_dim, dim, k_chunk, v_chunk, valid, scale, m, l, o)
//   finish(l, o, head_dim, out)
// with dim = head_dim rounded up to 16, k_chunk and v_chunk [kAttentionKeyChunk,
// dim]. By default each chunk's K and V are widened to f32 once for all rows.
// Ops with kStepsOnCache = true also provide
//   step_on_cache(q, head_dim, k_rows, v_rows, valid, scale, m, l, o)
//   step_pair_on_cache(PairedRows, head_dim, k_rows, v_rows, valid, scale)
// reading kAttentionKeyChunk consecutive bf16 rows of the cache in place (the
// pair: for two query rows of one token at once); they are used where a chunk
// is such rows (block_size a multiple of the chunk, head_dim a multiple of 16)
// and must round exactly as step does. Keys past `valid`
// are then whatever the block holds (not yet written, or another position's
// future): the step must keep them out of every result. Included by one file
// per ISA, each of which instantiates it in its own namespace.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/cpu/paged_attention.h"

namespace pagoda::cpu {
namespace {  // one copy per translation unit: each ISA's file compiles its own

// bf16 elements per 64-byte cache line.
inline constexpr std::int64_t kLineElements = 64 / sizeof(std::uint16_t);

inline std::int64_t padded_head_dim(std::int64_t head_dim) {
  return (head_dim + 15) / 16 * 16;
}

// Offset (elements) of key `pos` of `kv_head` in either cache.
inline std::int64_t kv_offset(const std::int32_t* block_table, std::int64_t pos, std::int64_t kv_head,
                              const PagedAttentionParams& p) {
  const std::int64_t block = block_table[pos / p.block_size];
  return ((block * p.num_kv_heads + kv_head) * p.block_size + pos % p.block_size) * p.head_dim;
}

// Two query rows of one token (two heads of its group), stepped together over
// one chunk: row r reads q[r] [head_dim] and updates m[r], l[r]
// [kAttentionKeyChunk] and o[r] [head_dim].
struct PairedRows {
  const float* q[2];
  float* m[2];
  float* l[2];
  float* o[2];
};

// Per-thread state of one tile: reused across calls, so no allocation per task
// once warm.
struct AttentionScratch {
  std::vector<float> k;  // [kAttentionKeyChunk, dim] the current chunk's keys
  std::vector<float> v;  // [kAttentionKeyChunk, dim] and values
  std::vector<float> o;  // [rows, dim] unnormalised outputs
  std::vector<float> l;  // [rows, kAttentionKeyChunk] lane-wise softmax denominators
  std::vector<float> m;  // [rows] running maxima
};

// Widens keys [c0, c0 + num_keys) (the first at `offset`) into s.k and s.v,
// zero-filling the chunk's remaining rows.
template <class Ops>
void widen_chunk(const PagedAttentionParams& p, const std::int32_t* table, std::int64_t c0,
                 std::int64_t num_keys, std::int64_t kv_head, std::int64_t offset, std::int64_t dim,
                 AttentionScratch& s) {
  const std::int64_t hd = p.head_dim;
  std::int64_t slot = c0 % p.block_size;
  for (std::int64_t j = 0; j < num_keys; ++j) {
    Ops::widen(p.k_cache + offset, hd, dim, s.k.data() + j * dim);
    Ops::widen(p.v_cache + offset, hd, dim, s.v.data() + j * dim);
    if (++slot == p.block_size && j + 1 < num_keys) {
      slot = 0;
      offset = kv_offset(table, c0 + j + 1, kv_head, p);
    } else {
      offset += hd;
    }
  }
  std::fill(s.k.data() + num_keys * dim, s.k.data() + kAttentionKeyChunk * dim, 0.0f);
  std::fill(s.v.data() + num_keys * dim, s.v.data() + kAttentionKeyChunk * dim, 0.0f);
}

template <class Ops>
void attend_tile_with(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head) {
  constexpr std::int64_t kChunk = kAttentionKeyChunk;
  thread_local AttentionScratch s;
  const std::int64_t group = p.num_heads / p.num_kv_heads, hd = p.head_dim, dim = padded_head_dim(hd);
  const std::int64_t rows = tile.num_tokens * group;
  s.k.resize(static_cast<std::size_t>(kChunk * dim));  // unused by chunks stepped on the cache
  s.v.resize(static_cast<std::size_t>(kChunk * dim));
  s.o.assign(static_cast<std::size_t>(rows * dim), 0.0f);
  s.l.assign(static_cast<std::size_t>(rows * kChunk), 0.0f);
  s.m.assign(static_cast<std::size_t>(rows), -std::numeric_limits<float>::infinity());
  const std::int32_t* table = p.block_tables[tile.first_token];
  const std::int64_t last_ctx =
      static_cast<std::int64_t>(p.positions[tile.first_token + tile.num_tokens - 1]) + 1;
  const bool on_cache = Ops::kStepsOnCache && dim == hd && p.block_size % kChunk == 0;
  for (std::int64_t c0 = 0; c0 < last_ctx; c0 += kChunk) {
    const std::int64_t num_keys = std::min(kChunk, last_ctx - c0);
    const std::int64_t offset = kv_offset(table, c0, kv_head, p);
    if (c0 + kChunk < last_ctx) {
      // Ask for the next chunk's rows now: they sit in another block, or 4 KiB
      // on in this one, where the hardware prefetchers do not look. (Written
      // out here: GCC deems a function that only prefetches free of side
      // effects and deletes its calls.)
      const std::int64_t next_keys = std::min(kChunk, last_ctx - c0 - kChunk);
      std::int64_t next = kv_offset(table, c0 + kChunk, kv_head, p);
      std::int64_t slot = (c0 + kChunk) % p.block_size;
      for (std::int64_t j = 0; j < next_keys; ++j) {
        for (std::int64_t e = 0; e < hd; e += kLineElements) {
          __builtin_prefetch(p.k_cache + next + e);
          __builtin_prefetch(p.v_cache + next + e);
        }
        if (++slot == p.block_size && j + 1 < next_keys) {
          slot = 0;
          next = kv_offset(table, c0 + kChunk + j + 1, kv_head, p);
        } else {
          next += hd;
        }
      }
    }
    if (!on_cache) widen_chunk<Ops>(p, table, c0, num_keys, kv_head, offset, dim, s);
    for (std::int64_t i = 0; i < tile.num_tokens; ++i) {
      const std::int64_t t = tile.first_token + i;
      const std::int64_t ctx = static_cast<std::int64_t>(p.positions[t]) + 1;
      if (c0 >= ctx) continue;
      const std::int64_t valid = std::min(kChunk, ctx - c0);
      std::int64_t g = 0;
      if constexpr (Ops::kStepsOnCache) {
        // Heads of the group in pairs: one pass over the chunk's rows for two.
        for (; on_cache && g + 2 <= group; g += 2) {
          PairedRows pair;
          for (std::int64_t r = 0; r < 2; ++r) {
            const std::int64_t row = i * group + g + r;
            pair.q[r] = p.q + (t * p.num_heads + kv_head * group + g + r) * hd;
            pair.m[r] = &s.m[static_cast<std::size_t>(row)];
            pair.l[r] = s.l.data() + row * kChunk;
            pair.o[r] = s.o.data() + row * dim;
          }
          Ops::step_pair_on_cache(pair, hd, p.k_cache + offset, p.v_cache + offset, valid, p.scale);
        }
      }
      for (; g < group; ++g) {
        const std::int64_t row = i * group + g;
        const float* q = p.q + (t * p.num_heads + kv_head * group + g) * hd;
        float* m = &s.m[static_cast<std::size_t>(row)];
        float* l = s.l.data() + row * kChunk;
        float* o = s.o.data() + row * dim;
        if constexpr (Ops::kStepsOnCache) {
          if (on_cache) {
            Ops::step_on_cache(q, hd, p.k_cache + offset, p.v_cache + offset, valid, p.scale, m, l, o);
            continue;
          }
        }
        Ops::step(q, hd, dim, s.k.data(), s.v.data(), valid, p.scale, m, l, o);
      }
    }
  }
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t t = tile.first_token + row / group;
    float* out = p.out + (t * p.num_heads + kv_head * group + row % group) * hd;
    Ops::finish(s.l.data() + row * kChunk, s.o.data() + row * dim, hd, out);
  }
}

}  // namespace
}  // namespace pagoda::cpu
