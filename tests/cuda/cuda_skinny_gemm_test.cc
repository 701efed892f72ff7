// The decode-batch GEMM against a double-precision reference: every m it
// takes, odd n, k from 8 to 3072, padded row strides, poisoned outputs.
#include <gtest/gtest.h>

#include <random>

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
}

}  // namespace
}  // namespace pagoda::cuda::kernel_test
