#include "engine/cpu/paged_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "base/bf16.h"

namespace pagoda::cpu {
namespace avx512 {
void paged_attention_impl(const PagedAttentionParams& p, ThreadPool& pool);
}
namespace generic {
void paged_attention_impl(const PagedAttentionParams& p, ThreadPool& pool);
}
namespace {

// Two sequences (lengths 37 and 5) with block size 7 and shuffled blocks;
// GQA 3:1; head_dim 40. Every query token attends to its own prefix.
TEST(PagedAttentionTest, MatchesNaiveReferenceAndIsaVariantsAgree) {
  const std::int64_t heads = 6, kv_heads = 2, hd = 40, bs = 7, blocks = 12;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  std::vector<std::uint16_t> kc(static_cast<std::size_t>(blocks * kv_heads * bs * hd));
  std::vector<std::uint16_t> vc(kc.size());
  for (auto& x : kc)
    x = f32_to_bf16(nd(rng));
  for (auto& x : vc)
    x = f32_to_bf16(nd(rng));
  std::vector<std::int32_t> table_a = {3, 9, 0, 11, 5, 7}, table_b = {8};
  std::vector<std::int32_t> positions = {36, 20, 4, 0};
  std::vector<const std::int32_t*> tables = {table_a.data(), table_a.data(), table_b.data(), table_b.data()};
  const std::int64_t n = static_cast<std::int64_t>(positions.size());
  std::vector<float> q(static_cast<std::size_t>(n * heads * hd));
  for (auto& x : q)
    x = nd(rng);
  PagedAttentionParams p;
  p.q = q.data();
  p.k_cache = kc.data();
  p.v_cache = vc.data();
  p.positions = positions.data();
  p.block_tables = tables.data();
  p.num_tokens = n;
  p.num_heads = heads;
  p.num_kv_heads = kv_heads;
  p.head_dim = hd;
  p.block_size = bs;
  p.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ThreadPool pool(2);
  std::vector<float> out_generic(q.size()), out_avx512(q.size());
  p.out = out_generic.data();
  generic::paged_attention_impl(p, pool);
  if (hardware_isa() == CpuIsa::kAvx512Bf16) {
    p.out = out_avx512.data();
    avx512::paged_attention_impl(p, pool);
    EXPECT_EQ(out_generic, out_avx512);
  }
  // Naive reference in double.
  auto at = [&](const std::vector<std::uint16_t>& cache, const std::int32_t* table, std::int64_t pos,
                std::int64_t h, std::int64_t d) {
    return static_cast<double>(bf16_to_f32(
        cache[static_cast<std::size_t>(((table[pos / bs] * kv_heads + h) * bs + pos % bs) * hd + d)]));
  };
  double err = 0, ref_norm = 0;
  for (std::int64_t t = 0; t < n; ++t) {
    for (std::int64_t h = 0; h < heads; ++h) {
      const std::int64_t kvh = h / (heads / kv_heads);
      std::vector<double> s(static_cast<std::size_t>(positions[static_cast<std::size_t>(t)] + 1));
      for (std::size_t j = 0; j < s.size(); ++j) {
        double dot = 0;
        for (std::int64_t d = 0; d < hd; ++d) {
          dot += q[static_cast<std::size_t>((t * heads + h) * hd + d)] *
                 at(kc, tables[static_cast<std::size_t>(t)], static_cast<std::int64_t>(j), kvh, d);
        }
        s[j] = dot * p.scale;
      }
      double mx = *std::max_element(s.begin(), s.end()), z = 0;
      for (double& x : s)
        z += (x = std::exp(x - mx));
      for (std::int64_t d = 0; d < hd; ++d) {
        double ref = 0;
        for (std::size_t j = 0; j < s.size(); ++j)
          ref += s[j] / z * at(vc, tables[static_cast<std::size_t>(t)], static_cast<std::int64_t>(j), kvh, d);
        double got = out_generic[static_cast<std::size_t>((t * heads + h) * hd + d)];
        err += (got - ref) * (got - ref);
        ref_norm += ref * ref;
      }
    }
  }
  EXPECT_LT(std::sqrt(err / ref_norm), 1e-5);
}

}  // namespace
}  // namespace pagoda::cpu
