// The decode-batch GEMM against a double-precision reference: every m it
// takes, odd n, k from 8 to 3072, padded row strides, poisoned outputs; and
// its SwiGLU epilogue against the GEMM followed by silu_mul, bit for bit.
#include <gtest/gtest.h>

#include <random>

#include "cuda/silu_mul_kernel.h"
#include "cuda/skinny_gemm_kernel.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda::kernel_test {
namespace {

class CudaSkinnyGemmTest : public CudaKernelTest {};

TEST_F(CudaSkinnyGemmTest, MatchesDoubleReference) {
  std::mt19937 rng(17);
  struct Case {
    std::int64_t n, k, ldx_pad, ldw_pad, ldy_pad;
  };
  const Case cases[] = {
      {1000, 1024, 0, 0, 0}, {4097, 3072, 8, 16, 3}, {33, 8, 0, 8, 1}, {1024, 2048, 0, 0, 0}};
  for (const Case& c : cases) {
    for (std::int64_t m = 1; m <= kSkinnyGemmMaxRows; ++m) {
      const std::int64_t ldx = c.k + c.ldx_pad, ldw = c.k + c.ldw_pad, ldy = c.n + c.ldy_pad;
      const auto x = random_bf16(rng, static_cast<std::size_t>(m * ldx), -1.0f, 1.0f);
      const auto w = random_bf16(rng, static_cast<std::size_t>(c.n * ldw), -1.0f, 1.0f);
      DeviceBuffer dx, dw, dy;
      ASSERT_NO_FATAL_FAILURE(upload(x, &dx));
      ASSERT_NO_FATAL_FAILURE(upload(w, &dw));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(m * ldy), &dy));
      SkinnyGemmParams p{
          dx.as<std::uint16_t>(), dw.as<std::uint16_t>(), dy.as<float>(), m, c.n, c.k, ldx, ldw, ldy, 0};
      ASSERT_TRUE(skinny_gemm_supports(p));
      PAGODA_ASSERT_CUDA(launch_skinny_gemm(p, nullptr));
      ASSERT_NO_FATAL_FAILURE(sync_device());
      std::vector<float> y;
      ASSERT_NO_FATAL_FAILURE(download(dy, &y));
      std::vector<float> got, ref;
      for (std::int64_t r = 0; r < m; ++r) {
        for (std::int64_t j = 0; j < ldy; ++j) {
          const float v = y[static_cast<std::size_t>(r * ldy + j)];
          if (j >= c.n) {
            EXPECT_TRUE(std::isnan(v)) << "padding column " << j << " was written";
            continue;
          }
          double s = 0.0;
          for (std::int64_t i = 0; i < c.k; ++i) {
            s += static_cast<double>(bf16_to_f32(x[static_cast<std::size_t>(r * ldx + i)])) *
                 bf16_to_f32(w[static_cast<std::size_t>(j * ldw + i)]);
          }
          got.push_back(v);
          ref.push_back(static_cast<float>(s));
        }
      }
      EXPECT_EQ(count_non_finite(got), 0) << "m " << m << " n " << c.n << " k " << c.k;
      EXPECT_LT(rel_error(got, ref), 1e-5) << "m " << m << " n " << c.n << " k " << c.k;
    }
  }
}

TEST_F(CudaSkinnyGemmTest, SwiGluEpilogueEqualsGemmThenSiluMul) {
  std::mt19937 rng(29);
  struct Case {
    std::int64_t inter, k, ldact_pad;
  };
  const Case cases[] = {{1000, 1024, 0}, {37, 136, 5}, {1536, 512, 8}};
  for (const Case& c : cases) {
    for (std::int64_t m = 1; m <= kSkinnyGemmMaxRows; ++m) {
      const std::int64_t n = 2 * c.inter, ldact = c.inter + c.ldact_pad;
      DeviceBuffer dx, dw, dy, ref, act;
      ASSERT_NO_FATAL_FAILURE(upload(random_bf16(rng, static_cast<std::size_t>(m * c.k), -1.0f, 1.0f), &dx));
      ASSERT_NO_FATAL_FAILURE(upload(random_bf16(rng, static_cast<std::size_t>(n * c.k), -0.2f, 0.2f), &dw));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(m * n), &dy));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(static_cast<std::size_t>(m * c.inter), &ref));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(static_cast<std::size_t>(m * ldact), &act));
      SkinnyGemmParams p{
          dx.as<std::uint16_t>(), dw.as<std::uint16_t>(), dy.as<float>(), m, n, c.k, c.k, c.k, n, 0};
      PAGODA_ASSERT_CUDA(launch_skinny_gemm(p, nullptr));
      SiluMulParams sm;
      sm.gate_up = dy.as<float>();
      sm.out = ref.as<std::uint16_t>();
      sm.num_tokens = m;
      sm.inter = c.inter;
      PAGODA_ASSERT_CUDA(launch_silu_mul(sm, nullptr));
      p.y = nullptr;
      p.act = act.as<std::uint16_t>();
      p.ldact = ldact;
      ASSERT_TRUE(skinny_gemm_supports(p));
      PAGODA_ASSERT_CUDA(launch_skinny_gemm(p, nullptr));
      ASSERT_NO_FATAL_FAILURE(sync_device());
      std::vector<std::uint16_t> want, got;
      ASSERT_NO_FATAL_FAILURE(download(ref, &want));
      ASSERT_NO_FATAL_FAILURE(download(act, &got));
      for (std::int64_t r = 0; r < m; ++r) {
        for (std::int64_t i = 0; i < ldact; ++i) {
          const std::uint16_t v = got[static_cast<std::size_t>(r * ldact + i)];
          if (i >= c.inter) {
            EXPECT_EQ(v, kPoisonBf16) << "padding column " << i << " was written";
            continue;
          }
          ASSERT_EQ(v, want[static_cast<std::size_t>(r * c.inter + i)])
              << "m " << m << " inter " << c.inter << " row " << r << " column " << i;
        }
      }
    }
  }
}

TEST(CudaSkinnyGemmLimitsTest, RefusesWhatItCannotTake) {
  alignas(16) static std::uint16_t buf[64];
  SkinnyGemmParams p{buf, buf, nullptr, 9, 4, 16, 16, 16, 4, 0};
  EXPECT_FALSE(skinny_gemm_supports(p));  // m > 8
  p.m = 2;
  EXPECT_TRUE(skinny_gemm_supports(p));
  p.k = 12;
  EXPECT_FALSE(skinny_gemm_supports(p));  // k not a multiple of 8
  p.k = 16;
  p.x = buf + 1;
  EXPECT_FALSE(skinny_gemm_supports(p));  // misaligned
  EXPECT_EQ(launch_skinny_gemm(p, nullptr), cudaErrorInvalidValue);
  p.x = buf;
  p.act = buf;
  p.ldact = 2;
  EXPECT_TRUE(skinny_gemm_supports(p));  // n = 4: two gate/up pairs
  p.ldact = 1;
  EXPECT_FALSE(skinny_gemm_supports(p));  // an act row shorter than n / 2
  p.ldact = 2;
  p.n = 5;
  EXPECT_FALSE(skinny_gemm_supports(p));  // no whole gate/up pairs
}

}  // namespace
}  // namespace pagoda::cuda::kernel_test
