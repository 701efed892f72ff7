#include "engine/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/bf16.h"

namespace pagoda::cpu {
namespace {

// Sixteen fixed partial sums: vectorises without reordering the arithmetic.
inline float dot_f32_bf16(const float* a, const std::uint16_t* b, std::int64_t n) {
  float partial[16] = {};
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int l = 0; l < 16; ++l)
      partial[l] += a[i + l] * bf16_to_f32(b[i + l]);
  }
  for (; i < n; ++i)
    partial[i % 16] += a[i] * bf16_to_f32(b[i]);
  float s = 0.0f;
  for (float x : partial)
    s += x;
  return s;
}

inline const std::uint16_t* slot(const std::uint16_t* cache, const std::int32_t* block_table,
                                 std::int64_t pos, std::int64_t kv_head, std::int64_t num_kv_heads,
                                 std::int64_t head_dim, std::int64_t block_size) {
  std::int64_t block = block_table[pos / block_size];
  return cache + ((block * num_kv_heads + kv_head) * block_size + pos % block_size) * head_dim;
}

}  // namespace

void write_kv(std::uint16_t* k_cache, std::uint16_t* v_cache, const float* k, const float* v,
              const std::int32_t* block_table, std::int32_t position, std::int64_t num_kv_heads,
              std::int64_t head_dim, std::int64_t block_size) {
  for (std::int64_t h = 0; h < num_kv_heads; ++h) {
    auto* kd = const_cast<std::uint16_t*>(
        slot(k_cache, block_table, position, h, num_kv_heads, head_dim, block_size));
    auto* vd = const_cast<std::uint16_t*>(
        slot(v_cache, block_table, position, h, num_kv_heads, head_dim, block_size));
    for (std::int64_t d = 0; d < head_dim; ++d) {
      kd[d] = f32_to_bf16(k[h * head_dim + d]);
      vd[d] = f32_to_bf16(v[h * head_dim + d]);
    }
  }
}

void paged_attention(const PagedAttentionParams& p, ThreadPool& pool) {
  const std::int64_t group = p.num_heads / p.num_kv_heads;
  pool.parallel_for(p.num_tokens * p.num_kv_heads, [&](std::int64_t task) {
    const std::int64_t t = task / p.num_kv_heads;
    const std::int64_t kvh = task % p.num_kv_heads;
    const std::int64_t ctx = static_cast<std::int64_t>(p.positions[t]) + 1;
    const std::int32_t* table = p.block_tables[t];
    thread_local std::vector<float> scores;
    scores.resize(static_cast<std::size_t>(group * ctx));
    // Scores for the group's query heads, sharing each K row.
    for (std::int64_t j = 0; j < ctx; ++j) {
      const std::uint16_t* k = slot(p.k_cache, table, j, kvh, p.num_kv_heads, p.head_dim, p.block_size);
      for (std::int64_t g = 0; g < group; ++g) {
        const float* q = p.q + (t * p.num_heads + kvh * group + g) * p.head_dim;
        scores[static_cast<std::size_t>(g * ctx + j)] = dot_f32_bf16(q, k, p.head_dim) * p.scale;
      }
    }
    for (std::int64_t g = 0; g < group; ++g) {
      float* s = scores.data() + g * ctx;
      float mx = *std::max_element(s, s + ctx);
      float sum = 0.0f;
      for (std::int64_t j = 0; j < ctx; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
      }
      const float inv = 1.0f / sum;
      float* out = p.out + (t * p.num_heads + kvh * group + g) * p.head_dim;
      std::fill(out, out + p.head_dim, 0.0f);
      for (std::int64_t j = 0; j < ctx; ++j) {
        const std::uint16_t* v = slot(p.v_cache, table, j, kvh, p.num_kv_heads, p.head_dim, p.block_size);
        const float w = s[j] * inv;
        for (std::int64_t d = 0; d < p.head_dim; ++d)
          out[d] += w * bf16_to_f32(v[d]);
      }
    }
  });
}

}  // namespace pagoda::cpu
