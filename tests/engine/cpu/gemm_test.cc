#include "engine/cpu/gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "base/bf16.h"

namespace pagoda::cpu {
namespace {

struct Matrices {
  std::int64_t m, n, k;
  std::vector<std::uint16_t> x, w;
};

Matrices random_matrices(std::int64_t m, std::int64_t n, std::int64_t k, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Matrices mt{m, n, k, std::vector<std::uint16_t>(static_cast<std::size_t>(m * k)),
              std::vector<std::uint16_t>(static_cast<std::size_t>(n * k))};
  for (auto& v : mt.x)
    v = f32_to_bf16(d(rng));
  for (auto& v : mt.w)
    v = f32_to_bf16(d(rng));
  return mt;
}

OwnedPackedMatrix packed(const Matrices& mt, ThreadPool& pool) {
  auto w = pack_matrix(mt.w.data(), mt.k, mt.n, mt.k, pool);
  EXPECT_TRUE(w.ok());
  return std::move(w).value();
}

std::vector<float> run(const Matrices& mt, CpuIsa isa, ThreadPool& pool, std::int64_t row_begin = 0,
                       std::int64_t rows = -1) {
  if (rows < 0) rows = mt.m;
  const OwnedPackedMatrix w = packed(mt, pool);
  std::vector<float> y(static_cast<std::size_t>(rows * mt.n), NAN);
  GemmParams p{mt.x.data() + row_begin * mt.k, mt.k, w.view, y.data(), mt.n, rows};
  gemm_bf16(p, pool, isa);
  return y;
}

std::vector<CpuIsa> isas() {
  std::vector<CpuIsa> out = {CpuIsa::kScalar};
  if (static_cast<int>(hardware_isa()) >= static_cast<int>(CpuIsa::kAvx2)) out.push_back(CpuIsa::kAvx2);
  if (hardware_isa() == CpuIsa::kAvx512Bf16) out.push_back(CpuIsa::kAvx512Bf16);
  return out;
}

class GemmTest : public testing::TestWithParam<std::tuple<int, int, int>> {};

// Every path agrees with a double-precision reference on awkward sizes.
TEST_P(GemmTest, MatchesReference) {
  auto [m, n, k] = GetParam();
  Matrices mt = random_matrices(m, n, k, static_cast<std::uint32_t>(m * 1000 + n * 10 + k));
  ThreadPool pool(2);
  for (CpuIsa isa : isas()) {
    std::vector<float> y = run(mt, isa, pool);
    double err = 0, ref_norm = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double ref = 0;
        for (std::int64_t t = 0; t < k; ++t) {
          ref += static_cast<double>(bf16_to_f32(mt.x[static_cast<std::size_t>(i * k + t)])) *
                 bf16_to_f32(mt.w[static_cast<std::size_t>(j * k + t)]);
        }
        double got = y[static_cast<std::size_t>(i * n + j)];
        ASSERT_FALSE(std::isnan(got)) << isa_name(isa) << " " << i << "," << j;
        err += (got - ref) * (got - ref);
        ref_norm += ref * ref;
      }
    }
    EXPECT_LT(std::sqrt(err / std::max(ref_norm, 1e-30)), 1e-5) << isa_name(isa);
  }
}

// Rows computed alone equal the same rows computed inside a bigger batch, bit
// for bit, and the thread count changes nothing.
TEST_P(GemmTest, BatchAndThreadInvariant) {
  auto [m, n, k] = GetParam();
  Matrices mt = random_matrices(m, n, k, 42);
  ThreadPool pool1(1), pool2(2);
  for (CpuIsa isa : isas()) {
    std::vector<float> all = run(mt, isa, pool2);
    EXPECT_EQ(all, run(mt, isa, pool1)) << isa_name(isa);
    for (std::int64_t i = 0; i < m; i += std::max<std::int64_t>(1, m / 3)) {
      std::vector<float> alone = run(mt, isa, pool2, i, 1);
      for (std::int64_t j = 0; j < n; ++j) {
        ASSERT_EQ(alone[static_cast<std::size_t>(j)], all[static_cast<std::size_t>(i * n + j)])
            << isa_name(isa) << " row " << i << " col " << j;
      }
    }
  }
}

// The AVX2 path computes each element exactly as the scalar one does (pair by
// pair, even product first; bf16 products are exact in f32).
TEST_P(GemmTest, Avx2EqualsScalar) {
  if (static_cast<int>(hardware_isa()) < static_cast<int>(CpuIsa::kAvx2)) GTEST_SKIP() << "no AVX2";
  auto [m, n, k] = GetParam();
  Matrices mt = random_matrices(m, n, k, 7);
  ThreadPool pool(2);
  EXPECT_EQ(run(mt, CpuIsa::kAvx2, pool), run(mt, CpuIsa::kScalar, pool));
}

// Packing keeps every element where PackedMatrix::at and packed_row_to_f32
// find it, and pads with zeros.
TEST_P(GemmTest, PackingRoundTrips) {
  auto [m, n, k] = GetParam();
  (void)m;
  Matrices mt = random_matrices(1, n, k, 9);
  ThreadPool pool(2);
  const OwnedPackedMatrix w = packed(mt, pool);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < k; ++c)
      ASSERT_EQ(w.view.at(r, c), mt.w[static_cast<std::size_t>(r * k + c)]) << r << "," << c;
  std::vector<float> row(static_cast<std::size_t>(k));
  for (std::int64_t r = 0; r < n; r += std::max<std::int64_t>(1, n / 5)) {
    packed_row_to_f32(w.view, r, row.data());
    for (std::int64_t c = 0; c < k; ++c)
      ASSERT_EQ(row[static_cast<std::size_t>(c)], bf16_to_f32(mt.w[static_cast<std::size_t>(r * k + c)]))
          << r;
  }
  std::int64_t nonzero_padding = 0;
  for (std::int64_t r = 0; r < w.view.num_panels() * PackedMatrix::kPanelRows; ++r)
    for (std::int64_t c = 0; c < 2 * w.view.num_pairs(); ++c)
      if ((r >= n || c >= k) && w.view.at(r, c) != 0) ++nonzero_padding;
  EXPECT_EQ(nonzero_padding, 0);
}

INSTANTIATE_TEST_SUITE_P(AwkwardSizes, GemmTest,
                         testing::Values(std::tuple{1, 1, 1}, std::tuple{1, 7, 31}, std::tuple{3, 33, 33},
                                         std::tuple{5, 17, 80}, std::tuple{17, 65, 97}, std::tuple{4, 16, 64},
                                         std::tuple{9, 40, 1000}, std::tuple{2, 130, 2049},
                                         std::tuple{13, 200, 65}));

// Products run together in one loop equal the same products run alone.
TEST(GemmManyTest, EqualsSeparateProducts) {
  ThreadPool pool(2);
  const std::int64_t m = 6, k = 70;
  Matrices a = random_matrices(m, 33, k, 1), b = random_matrices(m, 17, k, 2),
           c = random_matrices(m, 150, k, 3);
  for (CpuIsa isa : isas()) {
    std::vector<float> ya(static_cast<std::size_t>(m * a.n)), yb(static_cast<std::size_t>(m * b.n)),
        yc(static_cast<std::size_t>(m * c.n));
    // All three read a's x (the shared input), each with its own weights.
    const OwnedPackedMatrix wa = packed(a, pool), wb = packed(b, pool), wc = packed(c, pool);
    const GemmParams parts[] = {{a.x.data(), k, wa.view, ya.data(), a.n, m},
                                {a.x.data(), k, wb.view, yb.data(), b.n, m},
                                {a.x.data(), k, wc.view, yc.data(), c.n, m}};
    gemm_bf16_many(parts, pool, isa);
    EXPECT_EQ(ya, run(a, isa, pool)) << isa_name(isa);
    b.x = a.x;
    c.x = a.x;
    EXPECT_EQ(yb, run(b, isa, pool)) << isa_name(isa);
    EXPECT_EQ(yc, run(c, isa, pool)) << isa_name(isa);
  }
}

// An epilogue receives exactly the plain product's outputs, each once, in
// groups of whole panels — also where rows come in several runs (m past the
// scratch's rows) and where the last group is short.
TEST(GemmEpilogueTest, HandsOverEveryOutputOnceAndExactly) {
  ThreadPool pool(2);
  struct Case {
    std::int64_t m, n, k, group_panels;
  };
  for (const Case c : {Case{1, 64, 33, 1}, Case{7, 130, 70, 2}, Case{517, 256, 40, 2}, Case{300, 200, 64, 3},
                       Case{13, 65, 97, 2}}) {
    const Matrices mt = random_matrices(c.m, c.n, c.k, static_cast<std::uint32_t>(c.m + c.n));
    const OwnedPackedMatrix w = packed(mt, pool);
    for (CpuIsa isa : isas()) {
      const std::vector<float> want = run(mt, isa, pool);
      std::vector<float> got(want.size(), NAN);
      std::vector<int> seen(want.size(), 0);
      const std::int64_t width = c.group_panels * PackedMatrix::kPanelRows;
      const GemmEpilogue e{
          c.group_panels,
          [&](float* block, std::int64_t ld, std::int64_t row0, std::int64_t rows, std::int64_t group) {
            ASSERT_EQ(ld, width);
            for (std::int64_t r = 0; r < rows; ++r) {
              for (std::int64_t j = 0; j < ld && group * width + j < c.n; ++j) {
                const auto at = static_cast<std::size_t>((row0 + r) * c.n + group * width + j);
                got[at] = block[r * ld + j];
                ++seen[at];  // groups never overlap, so no two threads touch one element
              }
            }
          }};
      gemm_bf16(GemmParams{mt.x.data(), c.k, w.view, nullptr, 0, c.m, &e}, pool, isa);
      EXPECT_EQ(got, want) << isa_name(isa) << " m=" << c.m << " n=" << c.n << " group=" << c.group_panels;
      EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(seen.size()))
          << isa_name(isa) << " m=" << c.m;
    }
  }
}

// Interleaved packing puts a's and b's panels in turn, each zero padded.
TEST(GemmEpilogueTest, InterleavedPackingAlternatesPanels) {
  ThreadPool pool(2);
  const std::int64_t n = 100, k = 37;
  const Matrices a = random_matrices(1, n, k, 11), b = random_matrices(1, n, k, 12);
  auto w = pack_interleaved(a.w.data(), k, b.w.data(), k, n, k, pool);
  ASSERT_TRUE(w.ok());
  const PackedMatrix& v = w->view;
  ASSERT_EQ(v.n, 256);
  for (std::int64_t row = 0; row < v.n; ++row) {
    const std::int64_t panel = row / PackedMatrix::kPanelRows;
    const std::int64_t src_row = panel / 2 * PackedMatrix::kPanelRows + row % PackedMatrix::kPanelRows;
    const Matrices& src = panel % 2 == 0 ? a : b;
    for (std::int64_t c = 0; c < 2 * v.num_pairs(); ++c) {
      const std::uint16_t want =
          src_row < n && c < k ? src.w[static_cast<std::size_t>(src_row * k + c)] : std::uint16_t{0};
      ASSERT_EQ(v.at(row, c), want) << "row " << row << " col " << c;
    }
  }
}

}  // namespace
}  // namespace pagoda::cpu
