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

void write_kv(std::uint16_t* k_cache, std::uint16_t* v_cache, const float* k, const float* v,
              const std::int32_t* block_table, std::int32_t position, std::int64_t num_kv_heads,
              std::int64_t head_dim, std::int64_t block_size) {
  const std::int64_t block = block_table[position / block_size], slot = position % block_size;
  thread_local std::vector<std::uint16_t> row;
  row.resize(static_cast<std::size_t>(head_dim));
  for (std::int64_t h = 0; h < num_kv_heads; ++h) {
    // K: each pair of dimensions to its own run of the block's keys.
    f32_to_bf16_row(k + h * head_dim, head_dim, row.data());
    std::uint16_t* k_pair = k_cache + k_cache_offset(block, h, slot, 0, num_kv_heads, head_dim, block_size);
    for (std::int64_t d = 0; d < head_dim; d += 2, k_pair += 2 * block_size)
      std::memcpy(k_pair, row.data() + d, 2 * sizeof(std::uint16_t));
    f32_to_bf16_row(v + h * head_dim, head_dim,
                    v_cache + v_cache_offset(block, h, slot, 0, num_kv_heads, head_dim, block_size));
  }
}

}  // namespace pagoda::cpu
