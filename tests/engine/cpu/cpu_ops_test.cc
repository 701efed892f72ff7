#include "engine/cpu/cpu_ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "base/bf16.h"
#include "engine/cpu/cpu_isa.h"
#include "engine/cpu/cpu_ops_isa.h"
#include "engine/cpu/softmax_exp.h"

namespace pagoda::cpu {
namespace {

// Awkward values: ties in bf16 rounding, NaNs, infinities, subnormals, zeros.
std::vector<float> awkward_values(std::int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 3);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v)
    x = nd(rng);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::denorm_min(),
                            -0.0f,
                            0.0f,
                            std::bit_cast<float>(0x3f808000u),   // exactly halfway, even below
                            std::bit_cast<float>(0x3f818000u),   // exactly halfway, odd below
                            std::bit_cast<float>(0x7f7fffffu),   // rounds to infinity
                            std::bit_cast<float>(0xff800001u)};  // a signalling NaN
  for (std::size_t i = 0; i < std::size(specials) && i < v.size(); ++i)
    v[i * 7 % v.size()] = specials[i];
  return v;
}

TEST(CpuOpsTest, RowConversionRoundsLikeTheScalarDefinition) {
  const std::vector<float> x = awkward_values(1000, 1);
  std::vector<std::uint16_t> got(x.size());
  f32_to_bf16_row(x.data(), static_cast<std::int64_t>(x.size()), got.data());
  for (std::size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(got[i], f32_to_bf16(x[i])) << "value " << x[i] << " at " << i;
}

// The AVX-512 build of every kernel equals the baseline build bit for bit,
// on lengths that are not multiples of the vector width.
TEST(CpuOpsTest, Avx512PathEqualsGenericBitForBit) {
  if (hardware_isa() != CpuIsa::kAvx512Bf16) GTEST_SKIP() << "no AVX-512 on this CPU";
  for (std::int64_t n : {1, 15, 16, 17, 128, 1000, 3072}) {
    const std::vector<float> x = awkward_values(n, static_cast<unsigned>(n));
    std::vector<float> finite = x;
    for (auto& v : finite)
      v = std::isfinite(v) ? v : 1.5f;
    const std::vector<float> up = awkward_values(n, static_cast<unsigned>(n) + 7);
    std::vector<std::uint16_t> weight(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < weight.size(); ++i)
      weight[i] = f32_to_bf16(0.5f + static_cast<float>(i % 13) * 0.1f);
    std::vector<float> a(static_cast<std::size_t>(n)), b(a.size());
    generic::rms_norm_row(finite.data(), weight.data(), 1e-6f, n, a.data());
    avx512::rms_norm_row(finite.data(), weight.data(), 1e-6f, n, b.data());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "rms_norm_row n=" << n;

    std::vector<std::uint16_t> ha(a.size()), hb(a.size());
    generic::silu_mul_to_bf16(x.data(), up.data(), n, ha.data());
    avx512::silu_mul_to_bf16(x.data(), up.data(), n, hb.data());
    EXPECT_EQ(ha, hb) << "silu_mul_to_bf16 n=" << n;
    generic::f32_to_bf16_row(x.data(), n, ha.data());
    avx512::f32_to_bf16_row(x.data(), n, hb.data());
    EXPECT_EQ(ha, hb) << "f32_to_bf16_row n=" << n;

    // exp_sum over logits below their maximum (+inf replaced, NaN and -inf kept).
    std::vector<float> logits = x;
    for (auto& v : logits)
      v = v == std::numeric_limits<float>::infinity() ? -2.0f : v;
    std::vector<double> wa(a.size()), wb(a.size());
    const double sa = generic::exp_sum(logits.data(), n, 40.0, wa.data());
    const double sb = avx512::exp_sum(logits.data(), n, 40.0, wb.data());
    EXPECT_EQ(std::bit_cast<std::uint64_t>(sa), std::bit_cast<std::uint64_t>(sb)) << "exp_sum n=" << n;
    EXPECT_EQ(std::memcmp(wa.data(), wb.data(), wa.size() * sizeof(double)), 0) << "exp_sum terms n=" << n;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(avx512::exp_sum(logits.data(), n, 40.0, nullptr)),
              std::bit_cast<std::uint64_t>(sa));

    if (n % 2 == 0) {
      const std::vector<float> cs = awkward_values(n / 2, 3), sn = awkward_values(n / 2, 4);
      a = finite;
      b = finite;
      generic::rope_rotate_half(a.data(), cs.data(), sn.data(), n);
      avx512::rope_rotate_half(b.data(), cs.data(), sn.data(), n);
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "rope n=" << n;
    }
  }
}

// exp_sum's terms against std::exp over the whole range a softmax weight
// takes (x - shift from 0 down past -708, where a term becomes 0), -inf and NaN
// give 0, and the sum is the terms' eight lane sums added in order.
TEST(CpuOpsTest, ExpSumTermsMatchStdExp) {
  std::vector<float> x;
  for (float v = 0.0f; v > -760.0f; v -= 0.37f)
    x.push_back(v);
  x.push_back(-std::numeric_limits<float>::infinity());
  x.push_back(std::numeric_limits<float>::quiet_NaN());
  x.push_back(-1e-30f);
  const auto n = static_cast<std::int64_t>(x.size());
  std::vector<double> w(x.size());
  const double sum = exp_sum(x.data(), n, 0.0, w.data());
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    if (std::isnan(x[i]) || x[i] < -708.0f) {
      EXPECT_EQ(w[i], 0.0) << x[i];
      continue;
    }
    ASSERT_GT(want, 0.0);
    worst = std::max(worst, std::fabs(w[i] - want) / want);
  }
  EXPECT_LT(worst, 2e-14);
  double lanes[8] = {};
  for (std::size_t i = 0; i < w.size(); ++i)
    lanes[i % 8] += w[i];
  double want_sum = 0.0;
  for (double l : lanes)
    want_sum += l;
  EXPECT_EQ(sum, want_sum);
  EXPECT_EQ(exp_sum(x.data(), n, 0.0, nullptr), sum);
}

// The fused q/k norm + RoPE is exactly the per-head rms_norm_row then
// rope_rotate_half, in both builds: rows of several heads, each row with its
// own position (or one for all) and a stride past its heads, head counts
// around its group of sixteen and head sizes that are not multiples of 16.
TEST(CpuOpsTest, NormRopeHeadsEqualsPerHeadNormThenRope) {
  const bool avx512 = hardware_isa() == CpuIsa::kAvx512Bf16;
  for (std::int64_t hd : {2, 6, 64, 96, 128, 130}) {
    for (std::int64_t heads : {1, 2, 15, 16, 17, 40}) {
      for (std::int64_t rows : {1, 3}) {
        const std::int64_t ld = heads * hd + 4, half = hd / 2, cs_ld = rows == 1 ? 0 : half;
        std::vector<float> x = awkward_values(rows * ld, static_cast<unsigned>(heads * 1000 + hd + rows));
        for (auto& v : x)
          v = std::isfinite(v) ? v : -2.25f;
        const std::vector<float> cs = awkward_values(rows * half, 5), sn = awkward_values(rows * half, 6);
        std::vector<std::uint16_t> weight(static_cast<std::size_t>(hd));
        for (std::size_t i = 0; i < weight.size(); ++i)
          weight[i] = f32_to_bf16(0.75f + static_cast<float>(i % 11) * 0.05f);
        std::vector<float> want = x;
        for (std::int64_t r = 0; r < rows; ++r) {
          for (std::int64_t h = 0; h < heads; ++h) {
            float* v = want.data() + r * ld + h * hd;
            generic::rms_norm_row(v, weight.data(), 1e-6f, hd, v);
            generic::rope_rotate_half(v, cs.data() + r * cs_ld, sn.data() + r * cs_ld, hd);
          }
        }
        for (int build = 0; build < (avx512 ? 2 : 1); ++build) {
          std::vector<float> got = x;
          const NormRopeParams p{got.data(),    rows,  ld,        heads,     hd,
                                 weight.data(), 1e-6f, cs.data(), sn.data(), cs_ld};
          build == 0 ? generic::rms_norm_rope_heads(p) : avx512::rms_norm_rope_heads(p);
          ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
              << (build == 0 ? "generic" : "avx512") << ", rows " << rows << ", heads " << heads
              << ", head_dim " << hd;
        }
      }
    }
  }
}

// SiLU's exp: within 3e-7 of exp over its whole range, and clamped outside it.
TEST(CpuOpsTest, ClampedExpIsAccurateAndFinite) {
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    EXPECT_LT(std::abs(clamped_exp(x) - want) / want, 3e-7) << "x = " << x;
  }
  EXPECT_EQ(clamped_exp(-1000.0f), clamped_exp(-87.0f));
  EXPECT_EQ(clamped_exp(1000.0f), clamped_exp(88.0f));
  EXPECT_TRUE(std::isfinite(clamped_exp(std::numeric_limits<float>::infinity())));
  EXPECT_GT(clamped_exp(-std::numeric_limits<float>::infinity()), 0.0f);
}

// silu(gate) * up rounded to bf16 is the double-precision value rounded to
// bf16, or a neighbour of it (the f32 arithmetic may land on the other side of
// a rounding boundary), for gates from -88 to 100; below -88, where the exp is
// clamped, it stays under 1e-35 in magnitude (true value: under 1e-36).
TEST(CpuOpsTest, SiluMatchesDoublePrecisionToABf16Step) {
  std::vector<float> gate, up;
  for (float g = -100.0f; g <= 100.0f; g += 0.0731f) {
    gate.push_back(g);
    up.push_back(1.0f + 0.25f * std::sin(g));
  }
  std::vector<std::uint16_t> got(gate.size());
  silu_mul_to_bf16(gate.data(), up.data(), static_cast<std::int64_t>(gate.size()), got.data());
  for (std::size_t i = 0; i < gate.size(); ++i) {
    const double g = gate[i];
    const double want = g / (1.0 + std::exp(-g)) * up[i];
    const float near = bf16_to_f32(got[i]);
    if (g < -88.0) {
      EXPECT_LT(std::abs(near), 1e-35) << "gate " << g;
      continue;
    }
    const double step = std::max(std::abs(want) / 128.0, 1e-37);  // one bf16 step (8 significant bits)
    EXPECT_LE(std::abs(near - want), step) << "gate " << g;
  }
}

}  // namespace
}  // namespace pagoda::cpu
