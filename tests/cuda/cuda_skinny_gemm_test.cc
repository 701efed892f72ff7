// The decode-batch GEMM against a double-precision reference: every m it
// takes, odd n, k from 8 to 3072, padded row strides, poisoned outputs; and
// its fused forms against the kernels they replace, bit for bit: the SwiGLU
// epilogue (GEMM then silu_mul), the RMSNorm prologue (add_rms_norm then the
// GEMM) and the residual epilogue (the GEMM, then the add).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "cuda/add_rms_norm_kernel.h"
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
    for (std::int64_t m = 1; m <= kSkinnyGemmMaxFusedRows; ++m) {
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

TEST_F(CudaSkinnyGemmTest, NormPrologueAndResidualEpilogueEqualTheSeparateKernels) {
  std::mt19937 rng(31);
  struct Case {
    std::int64_t n, k;
  };
  const Case cases[] = {{74, 1032}, {300, 136}, {64, 4096}};
  for (const Case& c : cases) {
    for (std::int64_t m = 1; m <= kSkinnyGemmMaxFusedRows; ++m) {
      if (skinny_gemm_norm_bytes(m, c.k) > kSkinnyGemmMaxNormBytes) continue;
      const std::string where =
          "m " + std::to_string(m) + " n " + std::to_string(c.n) + " k " + std::to_string(c.k);
      const auto residual = random_f32(rng, static_cast<std::size_t>(m * c.k), -3.0f, 3.0f);
      const auto y0 = random_f32(rng, static_cast<std::size_t>(m * c.n), -1.0f, 1.0f);
      DeviceBuffer dres, dnw, dw, dxb, dref, dy, dacc, dref_act, dact;
      ASSERT_NO_FATAL_FAILURE(upload(residual, &dres));
      ASSERT_NO_FATAL_FAILURE(upload(random_bf16(rng, static_cast<std::size_t>(c.k), 0.5f, 1.5f), &dnw));
      ASSERT_NO_FATAL_FAILURE(
          upload(random_bf16(rng, static_cast<std::size_t>(c.n * c.k), -0.1f, 0.1f), &dw));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(static_cast<std::size_t>(m * c.k), &dxb));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(m * c.n), &dref));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(m * c.n), &dy));
      ASSERT_NO_FATAL_FAILURE(upload(y0, &dacc));
      ASSERT_NO_FATAL_FAILURE(
          alloc_poisoned<std::uint16_t>(static_cast<std::size_t>(m * c.n / 2), &dref_act));
      ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(static_cast<std::size_t>(m * c.n / 2), &dact));
      // The separate kernels: add_rms_norm (no add), then the GEMM, then silu_mul.
      AddRmsNormParams norm;
      norm.residual = dres.as<float>();
      norm.weight = dnw.as<std::uint16_t>();
      norm.out = dxb.as<std::uint16_t>();
      norm.rows = m;
      norm.hidden = c.k;
      norm.eps = 1e-5f;
      PAGODA_ASSERT_CUDA(launch_add_rms_norm(norm, nullptr));
      const SkinnyGemmParams plain{
          dxb.as<std::uint16_t>(), dw.as<std::uint16_t>(), dref.as<float>(), m, c.n, c.k, c.k, c.k, c.n, 0};
      PAGODA_ASSERT_CUDA(launch_skinny_gemm(plain, nullptr));
      SiluMulParams sm;
      sm.gate_up = dref.as<float>();
      sm.out = dref_act.as<std::uint16_t>();
      sm.num_tokens = m;
      sm.inter = c.n / 2;
      PAGODA_ASSERT_CUDA(launch_silu_mul(sm, nullptr));
      // Fused: the norm prologue (alone, and with the SwiGLU epilogue) and the residual epilogue.
      SkinnyGemmParams fused = plain;
      fused.x = nullptr;
      fused.y = dy.as<float>();
      fused.residual = dres.as<float>();
      fused.norm_weight = dnw.as<std::uint16_t>();
      fused.norm_eps = 1e-5f;
      ASSERT_TRUE(skinny_gemm_supports(fused)) << where;
      PAGODA_ASSERT_CUDA(launch_skinny_gemm(fused, nullptr));
      fused.y = nullptr;
      fused.act = dact.as<std::uint16_t>();
      fused.ldact = c.n / 2;
      PAGODA_ASSERT_CUDA(launch_skinny_gemm(fused, nullptr));
      SkinnyGemmParams add = plain;
      add.y = dacc.as<float>();
      add.accumulate = true;
      PAGODA_ASSERT_CUDA(launch_skinny_gemm(add, nullptr));
      ASSERT_NO_FATAL_FAILURE(sync_device());
      std::vector<float> ref, y, acc;
      std::vector<std::uint16_t> ref_act, act;
      ASSERT_NO_FATAL_FAILURE(download(dref, &ref));
      ASSERT_NO_FATAL_FAILURE(download(dy, &y));
      ASSERT_NO_FATAL_FAILURE(download(dacc, &acc));
      ASSERT_NO_FATAL_FAILURE(download(dref_act, &ref_act));
      ASSERT_NO_FATAL_FAILURE(download(dact, &act));
      EXPECT_EQ(count_non_finite(ref), 0) << where;
      EXPECT_EQ(y, ref) << "norm prologue, " << where;
      EXPECT_EQ(act, ref_act) << "norm prologue with SwiGLU, " << where;
      for (std::size_t i = 0; i < ref.size(); ++i)
        ASSERT_EQ(acc[i], y0[i] + ref[i]) << "residual epilogue, " << where << " element " << i;
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
  p.m = 5;
  EXPECT_FALSE(skinny_gemm_supports(p));  // more rows than the fused forms take
  p.m = 2;
  p.ldact = 1;
  EXPECT_FALSE(skinny_gemm_supports(p));  // an act row shorter than n / 2
  p.ldact = 2;
  p.n = 5;
  EXPECT_FALSE(skinny_gemm_supports(p));  // no whole gate/up pairs
  p.n = 4;
  p.act = nullptr;
  p.norm_weight = buf;
  EXPECT_FALSE(skinny_gemm_supports(p));  // a norm prologue without its residual
  static float residual[2 * 16];
  p.residual = residual;
  EXPECT_TRUE(skinny_gemm_supports(p));
  p.k = 8 * 1024;
  p.ldx = p.ldw = p.k;
  p.m = 4;
  EXPECT_FALSE(skinny_gemm_supports(p));  // 4 rows of 8192 bf16 are 64 KB of shared memory
  p.m = 3;
  EXPECT_FALSE(skinny_gemm_supports(p));  // 48 KB: no room left for the kernel's own scratch
  p.k = 5 * 1024;
  p.ldx = p.ldw = p.k;
  p.m = 4;
  EXPECT_TRUE(skinny_gemm_supports(p));  // 40 KB: Qwen3-14B/32B's hidden at the fused rows' limit
}

}  // namespace
}  // namespace pagoda::cuda::kernel_test
