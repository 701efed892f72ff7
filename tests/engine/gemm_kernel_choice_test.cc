// Which kernel a GEMM shape gets: the fastest timed candidate at start-up,
// kept for the shape; the fixed rule when timing is off, for shapes met
// later and for prefill-sized ones; a candidate that fails is dropped.
#include "engine/cuda/gemm_kernel_choice.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace pagoda::cuda {
namespace {

const std::vector<GemmKernel> kAll = {GemmKernel::kCublasLt, GemmKernel::kSkinny, GemmKernel::kTiled};

TEST(GemmKernelChoiceTest, TimedShapesKeepTheFastest) {
  GemmKernelChoice choice;
  std::map<GemmKernel, double> ms = {
      {GemmKernel::kCublasLt, 0.020}, {GemmKernel::kSkinny, 0.030}, {GemmKernel::kTiled, 0.012}};
  int timings = 0;
  const auto time = [&](GemmKernel k) {
    ++timings;
    return ms[k];
  };
  const GemmShape s{8, 1024, 2048, 1024};
  EXPECT_EQ(choice.choose(s, kAll, true, time), GemmKernel::kTiled);
  EXPECT_EQ(timings, 3);
  // Kept: not timed again, whatever the timer would say now, timing allowed or not.
  ms[GemmKernel::kSkinny] = 0.001;
  EXPECT_EQ(choice.choose(s, kAll, true, time), GemmKernel::kTiled);
  EXPECT_EQ(choice.choose(s, kAll, false, time), GemmKernel::kTiled);
  EXPECT_EQ(timings, 3);
  EXPECT_EQ(choice.num_timed(), 1u);
  // Another ldy is another shape.
  EXPECT_EQ(choice.choose({8, 1024, 2048, 3072}, kAll, true, time), GemmKernel::kSkinny);
  EXPECT_EQ(choice.num_timed(), 2u);
  // A kept kernel the call cannot take (say, x unaligned): the fixed rule.
  const std::vector<GemmKernel> cublas_only = {GemmKernel::kCublasLt};
  EXPECT_EQ(choice.choose(s, cublas_only, true, time), GemmKernel::kCublasLt);
}

TEST(GemmKernelChoiceTest, NearTiesKeepTheFixedRule) {
  GemmKernelChoice choice;
  // 2.5 % faster than cuBLASLt (the rule's kernel at 16 rows): not enough.
  const auto close = [](GemmKernel k) { return k == GemmKernel::kTiled ? 0.0195 : 0.020; };
  EXPECT_EQ(choice.choose({16, 1024, 2048, 1024}, kAll, true, close), GemmKernel::kCublasLt);
  // 10 % is.
  const auto clear = [](GemmKernel k) { return k == GemmKernel::kTiled ? 0.018 : 0.020; };
  EXPECT_EQ(choice.choose({17, 1024, 2048, 1024}, kAll, true, clear), GemmKernel::kTiled);
  EXPECT_EQ(choice.num_timed(), 2u);
}

TEST(GemmKernelChoiceTest, UntimedShapesTakeTheFixedRule) {
  GemmKernelChoice choice;
  int timings = 0;
  const auto time = [&](GemmKernel) {
    ++timings;
    return 1.0;
  };
  EXPECT_EQ(choice.choose({4, 1024, 2048, 1024}, kAll, false, time), GemmKernel::kSkinny);
  EXPECT_EQ(choice.choose({5, 1024, 2048, 1024}, kAll, false, time), GemmKernel::kCublasLt);
  // The skinny GEMM cannot take it (k off 8): cuBLASLt.
  EXPECT_EQ(choice.choose({1, 1024, 2044, 1024}, std::vector<GemmKernel>{GemmKernel::kCublasLt}, false, time),
            GemmKernel::kCublasLt);
  // Prefill-sized shapes are never timed.
  EXPECT_EQ(choice.choose({513, 1024, 2048, 1024}, kAll, true, time), GemmKernel::kCublasLt);
  EXPECT_EQ(timings, 0);
  EXPECT_EQ(choice.num_timed(), 0u);
}

TEST(GemmKernelChoiceTest, FailedCandidatesAreDropped) {
  GemmKernelChoice choice;
  const auto time = [](GemmKernel k) {
    return k == GemmKernel::kTiled ? -1.0 : k == GemmKernel::kSkinny ? 0.5 : 0.7;
  };
  EXPECT_EQ(choice.choose({16, 1024, 2048, 1024}, kAll, true, time), GemmKernel::kSkinny);
  // Every candidate failing: the fixed rule, and nothing kept (counted or
  // logged as timed).
  GemmKernelChoice none;
  EXPECT_EQ(none.choose({2, 64, 64, 64}, kAll, true, [](GemmKernel) { return -1.0; }), GemmKernel::kSkinny);
  EXPECT_EQ(none.num_timed(), 0u);
  EXPECT_TRUE(none.times({2, 64, 64, 64}, kAll.size(), true));
}

}  // namespace
}  // namespace pagoda::cuda
