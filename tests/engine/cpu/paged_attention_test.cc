#include "engine/cpu/paged_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "base/bf16.h"

namespace pagoda::cpu {
namespace {

struct AttentionCase {
  const char* name;
  std::int64_t heads, kv_heads, head_dim, block_size;
  std::vector<std::int32_t> seq_lens;  // each sequence's context; queries are its last `query_lens` tokens
  std::vector<std::int32_t> query_lens;
};

void PrintTo(const AttentionCase& c, std::ostream* os) {
  *os << c.name;
}

constexpr std::uint16_t kBf16Nan = 0x7fc0;

// Sequences in a shuffled paged cache, with random q; every query token
// attends to its own prefix.
class AttentionFixture {
 public:
  explicit AttentionFixture(const AttentionCase& c) : c_(c) {
    std::mt19937 rng(static_cast<unsigned>(c.head_dim * 131 + c.block_size));
    std::normal_distribution<float> nd(0, 1);
    std::int64_t num_blocks = 0;
    for (std::int32_t len : c.seq_lens)
      num_blocks += (len + c.block_size - 1) / c.block_size;
    std::vector<std::int32_t> ids(static_cast<std::size_t>(num_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    const auto cache_elems = static_cast<std::size_t>(num_blocks * c.kv_heads * c.block_size * c.head_dim);
    k_cache_.resize(cache_elems);
    v_cache_.resize(cache_elems);
    for (auto& x : k_cache_)
      x = f32_to_bf16(nd(rng) * 2.0f);  // spread the scores so the softmax is not flat
    for (auto& x : v_cache_)
      x = f32_to_bf16(nd(rng));
    std::size_t next = 0;
    tables_.resize(c.seq_lens.size());
    for (std::size_t s = 0; s < c.seq_lens.size(); ++s) {
      const std::int32_t blocks = (c.seq_lens[s] + static_cast<std::int32_t>(c.block_size) - 1) /
                                  static_cast<std::int32_t>(c.block_size);
      for (std::int32_t b = 0; b < blocks; ++b)
        tables_[s].push_back(ids[next++]);
      // Slots past the sequence's end hold NaN: no path may let a key it
      // cannot see into a result (the in-place path reads whole chunks).
      for (std::int32_t pos = c.seq_lens[s]; pos < blocks * static_cast<std::int32_t>(c.block_size); ++pos) {
        for (std::int64_t h = 0; h < c.kv_heads; ++h) {
          for (std::int64_t d = 0; d < c.head_dim; ++d) {
            k_cache_[static_cast<std::size_t>(k_cache_offset(tables_[s].back(), h, pos % c.block_size, d,
                                                             c.kv_heads, c.head_dim, c.block_size))] =
                kBf16Nan;
            v_cache_[static_cast<std::size_t>(v_cache_offset(tables_[s].back(), h, pos % c.block_size, d,
                                                             c.kv_heads, c.head_dim, c.block_size))] =
                kBf16Nan;
          }
        }
      }
      for (std::int32_t i = c.seq_lens[s] - c.query_lens[s]; i < c.seq_lens[s]; ++i) {
        positions_.push_back(i);
        token_tables_.push_back(tables_[s].data());
      }
    }
    q_.resize(positions_.size() * static_cast<std::size_t>(c.heads * c.head_dim));
    for (auto& x : q_)
      x = f32_to_bf16(nd(rng));
  }

  PagedAttentionParams params(float* out) const {
    PagedAttentionParams p;
    p.q = q_.data();
    p.out = out;
    p.k_cache = k_cache_.data();
    p.v_cache = v_cache_.data();
    p.positions = positions_.data();
    p.block_tables = token_tables_.data();
    p.num_tokens = static_cast<std::int64_t>(positions_.size());
    p.num_heads = c_.heads;
    p.num_kv_heads = c_.kv_heads;
    p.head_dim = c_.head_dim;
    p.block_size = c_.block_size;
    p.scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    return p;
  }

  std::size_t out_size() const { return q_.size(); }

  // Relative error of `out` against a naive double-precision softmax attention
  // of the bf16-rounded query rows (the weights stay unrounded here).
  double relative_error(const std::vector<float>& out) const {
    const std::int64_t hd = c_.head_dim, bs = c_.block_size;
    auto key = [&](const std::int32_t* table, std::int64_t pos, std::int64_t h, std::int64_t d) {
      return static_cast<double>(bf16_to_f32(k_cache_[static_cast<std::size_t>(
          k_cache_offset(table[pos / bs], h, pos % bs, d, c_.kv_heads, hd, bs))]));
    };
    auto value = [&](const std::int32_t* table, std::int64_t pos, std::int64_t h, std::int64_t d) {
      return static_cast<double>(bf16_to_f32(v_cache_[static_cast<std::size_t>(
          v_cache_offset(table[pos / bs], h, pos % bs, d, c_.kv_heads, hd, bs))]));
    };
    double err = 0, ref_norm = 0;
    for (std::size_t t = 0; t < positions_.size(); ++t) {
      for (std::int64_t h = 0; h < c_.heads; ++h) {
        const std::int64_t kvh = h / (c_.heads / c_.kv_heads);
        std::vector<double> s(static_cast<std::size_t>(positions_[t] + 1));
        for (std::size_t j = 0; j < s.size(); ++j) {
          double dot = 0;
          for (std::int64_t d = 0; d < hd; ++d) {
            dot += bf16_to_f32(
                       q_[(t * static_cast<std::size_t>(c_.heads) + static_cast<std::size_t>(h)) * hd + d]) *
                   key(token_tables_[t], static_cast<std::int64_t>(j), kvh, d);
          }
          s[j] = dot / std::sqrt(static_cast<double>(hd));
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double z = 0;
        for (double& x : s)
          z += (x = std::exp(x - mx));
        for (std::int64_t d = 0; d < hd; ++d) {
          double ref = 0;
          for (std::size_t j = 0; j < s.size(); ++j)
            ref += s[j] / z * value(token_tables_[t], static_cast<std::int64_t>(j), kvh, d);
          const double got =
              out[(t * static_cast<std::size_t>(c_.heads) + static_cast<std::size_t>(h)) * hd + d];
          err += (got - ref) * (got - ref);
          ref_norm += ref * ref;
        }
      }
    }
    return std::sqrt(err / ref_norm);
  }

 private:
  AttentionCase c_;
  std::vector<std::uint16_t> k_cache_, v_cache_;
  std::vector<std::vector<std::int32_t>> tables_;
  std::vector<std::int32_t> positions_;
  std::vector<const std::int32_t*> token_tables_;
  std::vector<std::uint16_t> q_;  // bf16
};

const AttentionCase kCases[] = {
    {"gqa3_hd40_bs7", 6, 2, 40, 7, {37, 5}, {37, 5}},
    {"mha_hd64_bs1", 4, 4, 64, 1, {1, 97, 18}, {1, 1, 18}},
    {"gqa2_hd128_bs16", 16, 8, 128, 16, {200, 33, 16, 17}, {150, 1, 16, 2}},
    {"gqa8_hd128_bs16_decode", 8, 1, 128, 16, {4000, 97, 1}, {1, 1, 1}},
    {"gqa4_hd256_bs5", 8, 2, 256, 5, {61, 3}, {21, 3}},
    // Chunks read in place from the cache (block size a multiple of 16): a
    // head_dim with no fixed-size step, chunks in half a block, and a group
    // of three (a pair of heads stepped together, then one alone).
    {"gqa2_hd48_bs16", 4, 2, 48, 16, {45, 16, 3}, {45, 2, 1}},
    {"gqa2_hd64_bs32", 4, 2, 64, 32, {70, 33}, {30, 1}},
    {"gqa3_hd64_bs16", 6, 2, 64, 16, {50, 17, 1}, {20, 1, 1}},
};

class PagedAttentionTest : public ::testing::TestWithParam<AttentionCase> {};

// The scalar specification against a double-precision reference, and every
// vector path this CPU has against the specification, bit for bit. The
// specification rounds the softmax weights to bf16 for the value products,
// which the reference does not: ~2^-9 relative per weight, less on the
// weighted sums.
TEST_P(PagedAttentionTest, MatchesReferenceAndEveryIsaPathAgreesBitForBit) {
  AttentionFixture f(GetParam());
  ThreadPool pool(2);
  std::vector<float> spec(f.out_size(), std::nanf("")), got(f.out_size());
  paged_attention(f.params(spec.data()), pool, CpuIsa::kScalar);
  // Measured 3.3e-4 to 7.2e-4 on these cases (2e-6 before the weights were rounded).
  EXPECT_LT(f.relative_error(spec), 1.5e-3) << GetParam().name;
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512Bf16}) {
    if (static_cast<int>(isa) > static_cast<int>(hardware_isa())) continue;
    std::fill(got.begin(), got.end(), std::nanf(""));
    paged_attention(f.params(got.data()), pool, isa);
    EXPECT_EQ(std::memcmp(spec.data(), got.data(), spec.size() * sizeof(float)), 0)
        << GetParam().name << " on " << isa_name(isa);
  }
}

// Each token computed in a call of its own equals the same token computed in a
// tile with its neighbours: tiling never changes a row's arithmetic.
TEST_P(PagedAttentionTest, TokensAloneEqualTokensInTiles) {
  AttentionFixture f(GetParam());
  ThreadPool pool(2);
  std::vector<float> together(f.out_size()), alone(f.out_size(), std::nanf(""));
  const PagedAttentionParams all = f.params(together.data());
  paged_attention(all, pool);
  const std::int64_t row = GetParam().heads * GetParam().head_dim;
  for (std::int64_t t = 0; t < all.num_tokens; ++t) {
    PagedAttentionParams one = all;
    one.q = all.q + t * row;
    one.out = alone.data() + t * row;
    one.positions = all.positions + t;
    one.block_tables = all.block_tables + t;
    one.num_tokens = 1;
    paged_attention(one, pool);
  }
  EXPECT_EQ(std::memcmp(together.data(), alone.data(), together.size() * sizeof(float)), 0)
      << GetParam().name;
}

// Asked for bf16 output, every path writes the f32 output rounded to bf16.
TEST_P(PagedAttentionTest, Bf16OutputIsTheF32OutputRounded) {
  AttentionFixture f(GetParam());
  ThreadPool pool(2);
  std::vector<float> f32(f.out_size());
  paged_attention(f.params(f32.data()), pool, CpuIsa::kScalar);
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512Bf16}) {
    if (static_cast<int>(isa) > static_cast<int>(hardware_isa())) continue;
    std::vector<std::uint16_t> got(f.out_size(), kBf16Nan);
    PagedAttentionParams p = f.params(nullptr);
    p.out_bf16 = got.data();
    paged_attention(p, pool, isa);
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], f32_to_bf16(f32[i])) << GetParam().name << " on " << isa_name(isa) << " at " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, PagedAttentionTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<AttentionCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

// write_key and write_value put each dimension of one KV head's row, rounded
// to bf16, where k_cache_offset / v_cache_offset say, and touch nothing else.
TEST(KvCacheWriteTest, RowsLandWhereTheLayoutSaysAndNowhereElse) {
  constexpr std::int64_t kHeads = 3, kHeadDim = 6, kBlockSize = 5, kBlocks = 4;
  const std::vector<std::int32_t> table = {2, 0, 3};  // the sequence's blocks, out of order
  for (const std::int32_t position : {0, 4, 7, 13}) {
    for (std::int64_t head = 0; head < kHeads; ++head) {
      std::vector<std::uint16_t> k(kBlocks * kHeads * kBlockSize * kHeadDim, kBf16Nan), v = k;
      const KvCacheView cache{k.data(), v.data(), kHeads, kHeadDim, kBlockSize};
      const float key[kHeadDim] = {1.0f, -2.5f, 3.0078125f, 0.1f, -0.0f, 1e-3f};
      const float value[kHeadDim] = {-1.0f, 2.5f, 0.3f, 7.0f, 1e5f, -1e-5f};
      write_key(cache, table.data(), position, head, key);
      write_value(cache, table.data(), position, head, value);
      const std::int64_t block = table[static_cast<std::size_t>(position / kBlockSize)];
      for (std::int64_t d = 0; d < kHeadDim; ++d) {
        const auto ko = static_cast<std::size_t>(
            k_cache_offset(block, head, position % kBlockSize, d, kHeads, kHeadDim, kBlockSize));
        const auto vo = static_cast<std::size_t>(
            v_cache_offset(block, head, position % kBlockSize, d, kHeads, kHeadDim, kBlockSize));
        EXPECT_EQ(k[ko], f32_to_bf16(key[d])) << "position " << position << " head " << head << " d " << d;
        EXPECT_EQ(v[vo], f32_to_bf16(value[d])) << "position " << position << " head " << head << " d " << d;
      }
      EXPECT_EQ(std::count(k.begin(), k.end(), kBf16Nan), static_cast<std::ptrdiff_t>(k.size()) - kHeadDim);
      EXPECT_EQ(std::count(v.begin(), v.end(), kBf16Nan), static_cast<std::ptrdiff_t>(v.size()) - kHeadDim);
    }
  }
}

TEST(PagedAttentionTilesTest, SplitsAtSequencesGapsAndTheTileLimit) {
  std::vector<std::int32_t> table_a = {0}, table_b = {1};
  std::vector<std::int32_t> positions;
  std::vector<const std::int32_t*> tables;
  for (std::int32_t i = 0; i < kAttentionMaxTileTokens + 3; ++i) {  // one long run of a
    positions.push_back(i);
    tables.push_back(table_a.data());
  }
  positions.push_back(40);  // a gap in positions starts a new tile
  tables.push_back(table_a.data());
  positions.push_back(41);  // same table, next position: same tile as 40
  tables.push_back(table_a.data());
  positions.push_back(42);  // another sequence
  tables.push_back(table_b.data());
  PagedAttentionParams p;
  p.positions = positions.data();
  p.block_tables = tables.data();
  p.num_tokens = static_cast<std::int64_t>(positions.size());
  const std::vector<AttentionTile> tiles = plan_attention_tiles(p);
  ASSERT_EQ(tiles.size(), 4u);
  EXPECT_EQ(tiles[0].num_tokens, kAttentionMaxTileTokens);
  EXPECT_EQ(tiles[1].first_token, kAttentionMaxTileTokens);
  EXPECT_EQ(tiles[1].num_tokens, 3);
  EXPECT_EQ(tiles[2].num_tokens, 2);
  EXPECT_EQ(tiles[3].first_token, p.num_tokens - 1);
  EXPECT_EQ(tiles[3].num_tokens, 1);
}

}  // namespace
}  // namespace pagoda::cpu
