// The batch-invariant GEMM: against a double-precision reference at awkward
// sizes (m, n and k off every tile, padded row strides, poisoned outputs) for
// each CTA tile; and its promise, bit for bit: a row's results are the same
// alone, inside any batch and under any tile.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "cuda/invariant_gemm_kernel.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda::kernel_test {
namespace {

class CudaInvariantGemmTest : public CudaKernelTest {};

struct Problem {
  std::int64_t m = 0, n = 0, k = 0, ldx = 0, ldw = 0, ldy = 0;
};

// y [m, ldy] (columns past n still poisoned) of x [m, ldx] · w [n, ldw]ᵀ.
void run_gemm(const Problem& pr, const std::vector<std::uint16_t>& x, const std::vector<std::uint16_t>& w,
              int block_rows, std::vector<float>* y) {
  DeviceBuffer dx, dw, dy;
  ASSERT_NO_FATAL_FAILURE(upload(x, &dx));
  ASSERT_NO_FATAL_FAILURE(upload(w, &dw));
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(static_cast<std::size_t>(pr.m * pr.ldy), &dy));
  InvariantGemmParams p;
  p.x = dx.as<std::uint16_t>();
  p.w = dw.as<std::uint16_t>();
  p.y = dy.as<float>();
  p.m = pr.m;
  p.n = pr.n;
  p.k = pr.k;
  p.ldx = pr.ldx;
  p.ldw = pr.ldw;
  p.ldy = pr.ldy;
  p.block_rows = block_rows;
  ASSERT_TRUE(invariant_gemm_supports(p));
  PAGODA_ASSERT_CUDA(launch_invariant_gemm(p, nullptr));
  ASSERT_NO_FATAL_FAILURE(sync_device());
  ASSERT_NO_FATAL_FAILURE(download(dy, y));
}

TEST_F(CudaInvariantGemmTest, MatchesDoubleReference) {
  std::mt19937 rng(41);
  const Problem cases[] = {{1, 1000, 1024, 1024, 1024, 1000},  // one decode row
                           {17, 33, 136, 144, 136, 35},        // k off the 32-wide k-tile, padded strides
                           {130, 200, 8, 8, 16, 201},  // one k-step of zeros past k, m past a 128-row tile
                           {70, 129, 264, 264, 272, 129}};
  for (const Problem& c : cases) {
    const auto x = random_bf16(rng, static_cast<std::size_t>(c.m * c.ldx), -1.0f, 1.0f);
    const auto w = random_bf16(rng, static_cast<std::size_t>(c.n * c.ldw), -1.0f, 1.0f);
    for (const int block_rows : {16, 64, 128}) {
      std::vector<float> y;
      ASSERT_NO_FATAL_FAILURE(run_gemm(c, x, w, block_rows, &y));
      std::vector<float> got, ref;
      for (std::int64_t r = 0; r < c.m; ++r) {
        for (std::int64_t j = 0; j < c.ldy; ++j) {
          const float v = y[static_cast<std::size_t>(r * c.ldy + j)];
          if (j >= c.n) {
            EXPECT_TRUE(std::isnan(v)) << "padding column " << j << " was written";
            continue;
          }
          double s = 0.0;
          for (std::int64_t i = 0; i < c.k; ++i) {
            s += static_cast<double>(bf16_to_f32(x[static_cast<std::size_t>(r * c.ldx + i)])) *
                 bf16_to_f32(w[static_cast<std::size_t>(j * c.ldw + i)]);
          }
          got.push_back(v);
          ref.push_back(static_cast<float>(s));
        }
      }
      EXPECT_EQ(count_non_finite(got), 0)
          << "m " << c.m << " n " << c.n << " k " << c.k << " tile " << block_rows;
      EXPECT_LT(rel_error(got, ref), 1e-5)
          << "m " << c.m << " n " << c.n << " k " << c.k << " tile " << block_rows;
    }
  }
}

// Rows [first, first + count) of a 150-row product, computed as a batch of
// their own (with the tile that batch size would get, and every other tile),
// equal the whole batch's rows bit for bit. k = 984 ends 24 into a 64-wide
// k-tile: the tiles with 64-wide k-tiles add two k-steps of zeros that the
// 32-wide ones do not.
TEST_F(CudaInvariantGemmTest, RowsEqualAloneAndInAnyBatch) {
  std::mt19937 rng(43);
  const std::int64_t m = 150, n = 300, k = 984;
  const Problem whole{m, n, k, k, k, n};
  const auto x = random_bf16(rng, static_cast<std::size_t>(m * k), -2.0f, 2.0f);
  const auto w = random_bf16(rng, static_cast<std::size_t>(n * k), -0.5f, 0.5f);
  std::vector<float> all;
  ASSERT_NO_FATAL_FAILURE(run_gemm(whole, x, w, invariant_gemm_block_rows(m), &all));
  struct Slice {
    std::int64_t first, count;
  };
  for (const Slice s :
       {Slice{0, 1}, Slice{77, 1}, Slice{149, 1}, Slice{3, 4}, Slice{40, 17}, Slice{10, 129}}) {
    const std::vector<std::uint16_t> part(x.begin() + s.first * k, x.begin() + (s.first + s.count) * k);
    for (const int block_rows : {16, 64, 128}) {
      std::vector<float> y;
      ASSERT_NO_FATAL_FAILURE(run_gemm(Problem{s.count, n, k, k, k, n}, part, w, block_rows, &y));
      EXPECT_EQ(std::memcmp(y.data(), all.data() + s.first * n, y.size() * sizeof(float)), 0)
          << "rows " << s.first << ".." << s.first + s.count - 1 << " with " << block_rows << "-row tiles";
    }
  }
}

TEST_F(CudaInvariantGemmTest, RefusesWhatItCannotTake) {
  InvariantGemmParams p;
  DeviceBuffer dx, dw, dy;
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(64, &dx));
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(64, &dw));
  ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(64, &dy));
  p.x = dx.as<std::uint16_t>();
  p.w = dw.as<std::uint16_t>();
  p.y = dy.as<float>();
  p.m = p.n = 2;
  p.k = p.ldx = p.ldw = 16;
  p.ldy = 2;
  EXPECT_TRUE(invariant_gemm_supports(p));
  InvariantGemmParams bad = p;
  bad.k = 12;  // not a multiple of 8
  EXPECT_EQ(launch_invariant_gemm(bad, nullptr), cudaErrorInvalidValue);
  bad = p;
  bad.block_rows = 32;
  EXPECT_EQ(launch_invariant_gemm(bad, nullptr), cudaErrorInvalidValue);
  bad = p;
  bad.x = p.x + 1;  // not 16-byte aligned
  EXPECT_EQ(launch_invariant_gemm(bad, nullptr), cudaErrorInvalidValue);
  bad = p;
  bad.ldy = 1;
  EXPECT_EQ(launch_invariant_gemm(bad, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace pagoda::cuda::kernel_test
