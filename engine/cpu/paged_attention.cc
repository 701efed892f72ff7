#include "engine/cpu/paged_attention.h"

#include <cstring>

#include "engine/cpu/cpu_ops.h"

namespace pagoda::cpu {

// One tile of work per ISA path (paged_attention_kernel.inc, _avx512.cc).
namespace generic {
void attend_tile(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head);
}
namespace avx2 {
void attend_tile(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head);
}
namespace avx512 {
void attend_tile(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head);
}

std::vector<AttentionTile> plan_attention_tiles(const PagedAttentionParams& p) {
  std::vector<AttentionTile> tiles;
  for (std::int64_t t = 0; t < p.num_tokens; ++t) {
    if (!tiles.empty()) {
      AttentionTile& last = tiles.back();
      const std::int64_t prev = last.first_token + last.num_tokens - 1;
      if (last.num_tokens < kAttentionMaxTileTokens && p.block_tables[t] == p.block_tables[prev] &&
          p.positions[t] == p.positions[prev] + 1) {
        ++last.num_tokens;
        continue;
      }
    }
    tiles.push_back({t, 1});
  }
  return tiles;
}

void paged_attention(const PagedAttentionParams& p, ThreadPool& pool, CpuIsa isa) {
  const std::vector<AttentionTile> tiles = plan_attention_tiles(p);
  auto* attend = isa == CpuIsa::kAvx512Bf16 ? &avx512::attend_tile
                 : isa == CpuIsa::kAvx2     ? &avx2::attend_tile
                                            : &generic::attend_tile;
  const auto num_tiles = static_cast<std::int64_t>(tiles.size());
  // Later tiles of a prompt see more keys: listed first, so that the tasks a
  // thread takes over from the back of another's share are short ones.
  pool.parallel_for(num_tiles * p.num_kv_heads, [&](std::int64_t task) {
    const AttentionTile& tile = tiles[static_cast<std::size_t>(num_tiles - 1 - task / p.num_kv_heads)];
    attend(p, tile, task % p.num_kv_heads);
  });
}

void write_key(const KvCacheView& cache, const std::int32_t* block_table, std::int32_t position,
               std::int64_t kv_head, const float* key) {
  const std::int64_t block = block_table[position / cache.block_size], slot = position % cache.block_size;
  thread_local std::vector<std::uint16_t> rounded;
  rounded.resize(static_cast<std::size_t>(cache.head_dim));
  f32_to_bf16_row(key, cache.head_dim, rounded.data());
  // Each pair of dimensions to its own run of the block's keys.
  std::uint16_t* pair =
      cache.k + k_cache_offset(block, kv_head, slot, 0, cache.num_kv_heads, cache.head_dim, cache.block_size);
  for (std::int64_t d = 0; d < cache.head_dim; d += 2, pair += 2 * cache.block_size)
    std::memcpy(pair, rounded.data() + d, 2 * sizeof(std::uint16_t));
}

void write_value(const KvCacheView& cache, const std::int32_t* block_table, std::int32_t position,
                 std::int64_t kv_head, const float* value) {
  const std::int64_t block = block_table[position / cache.block_size], slot = position % cache.block_size;
  f32_to_bf16_row(value, cache.head_dim,
                  cache.v + v_cache_offset(block, kv_head, slot, 0, cache.num_kv_heads, cache.head_dim,
                                           cache.block_size));
}

}  // namespace pagoda::cpu
