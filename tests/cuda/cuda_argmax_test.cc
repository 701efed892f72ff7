// Device greedy sampling against the host rule: the largest logit, lowest
// index among equal maxima, NaN never (token 0 when every logit is NaN), on
// full-size and odd vocabularies with planted ties and NaN, reading rows
// through an index list.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cuda/argmax_kernel.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda::kernel_test {
namespace {

std::int32_t host_argmax(const float* row, std::int64_t n) {
  std::int64_t best = -1;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isnan(row[i]) && (best < 0 || row[i] > row[best])) best = i;
  }
  return static_cast<std::int32_t>(best < 0 ? 0 : best);
}

class CudaArgmaxTest : public CudaKernelTest {};

TEST_F(CudaArgmaxTest, MatchesHostArgmaxWithTies) {
  std::mt19937 rng(31);
  for (std::int64_t vocab : {151936L, 509L, 1L}) {
    const std::int64_t rows = 17, stride = vocab + 3;
    std::vector<float> logits = random_f32(rng, static_cast<std::size_t>(rows * stride), -8.0f, 8.0f);
    // Row 3: a tie at two late positions; row 5: a tie with index 0; row 7:
    // all equal; row 9: NaN at 0 and beside the maximum; row 16: NaN at 0
    // and -inf after it; row 0 of vocabulary 1: NaN.
    if (vocab > 100) {
      logits[static_cast<std::size_t>(9 * stride + 0)] = NAN;
      logits[static_cast<std::size_t>(9 * stride + 40)] = NAN;
      logits[static_cast<std::size_t>(9 * stride + 41)] = 70.0f;
      logits[static_cast<std::size_t>(16 * stride + 0)] = NAN;
      for (std::int64_t i = 1; i < vocab; ++i)
        logits[static_cast<std::size_t>(16 * stride + i)] = -INFINITY;
      logits[static_cast<std::size_t>(3 * stride + 90)] = 50.0f;
      logits[static_cast<std::size_t>(3 * stride + 60)] = 50.0f;
      logits[static_cast<std::size_t>(5 * stride + 0)] = 60.0f;
      logits[static_cast<std::size_t>(5 * stride + vocab - 1)] = 60.0f;
      for (std::int64_t i = 0; i < vocab; ++i)
        logits[static_cast<std::size_t>(7 * stride + i)] = 1.5f;
    }
    if (vocab == 1) logits[0] = NAN;
    // Column vocab..stride-1 is padding the kernel must not consider.
    for (std::int64_t r = 0; r < rows; ++r)
      logits[static_cast<std::size_t>(r * stride + vocab)] = 1000.0f;
    std::vector<std::int32_t> which = {16, 3, 5, 7, 0, 9, 9};
    DeviceBuffer d_logits, d_rows, d_out;
    ASSERT_NO_FATAL_FAILURE(upload(logits, &d_logits));
    ASSERT_NO_FATAL_FAILURE(upload(which, &d_rows));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::int32_t>(which.size(), &d_out));
    ArgmaxParams p;
    p.logits = d_logits.as<float>();
    p.rows = d_rows.as<std::int32_t>();
    p.out = d_out.as<std::int32_t>();
    p.num_out = static_cast<std::int64_t>(which.size());
    p.vocab_size = vocab;
    p.row_stride = stride;
    PAGODA_ASSERT_CUDA(launch_argmax(p, nullptr));
    ASSERT_NO_FATAL_FAILURE(sync_device());
    std::vector<std::int32_t> out;
    ASSERT_NO_FATAL_FAILURE(download(d_out, &out));
    for (std::size_t k = 0; k < which.size(); ++k) {
      const float* row = logits.data() + which[k] * stride;
      EXPECT_EQ(out[k], host_argmax(row, vocab)) << "vocab " << vocab << " output " << k;
    }
    if (vocab > 100) {
      EXPECT_EQ(out[0], 1);
      EXPECT_EQ(out[1], 60);
      EXPECT_EQ(out[2], 0);
      EXPECT_EQ(out[3], 0);
      EXPECT_EQ(out[5], 41);
    }
  }
}

}  // namespace
}  // namespace pagoda::cuda::kernel_test
