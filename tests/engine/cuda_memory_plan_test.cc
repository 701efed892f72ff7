#include "engine/cuda/cuda_memory_plan.h"

#include <gtest/gtest.h>

namespace pagoda::cuda {
namespace {

constexpr std::int64_t kGiB = 1LL << 30;

MemoryPlanInputs h200_like() {
  MemoryPlanInputs in;
  in.total_bytes = 140 * kGiB;
  in.free_bytes = 139 * kGiB;  // 1 GiB: our context and cuBLAS workspace
  in.utilization = 0.9;
  in.weight_bytes = 16 * kGiB;
  in.workspace_bytes = 2 * kGiB;
  in.kv_bytes_per_block = 2LL * 36 * 8 * 16 * 128 * 2;  // 8B shape, block 16
  in.block_size = 16;
  in.max_model_len = 40960;
  in.total_weight_bytes_tp1 = 16 * kGiB;
  return in;
}

TEST(CudaMemoryPlanTest, KvGetsWhatTheUtilizationLeaves) {
  MemoryPlanInputs in = h200_like();
  StatusOr<CudaMemoryPlan> p = plan_device_memory(in);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  // 140 * 0.9 = 126 GiB allowed, 1 in use, 18 fixed: 107 GiB of KV.
  const std::int64_t kv = static_cast<std::int64_t>(140 * kGiB * 0.9) - 1 * kGiB - 18 * kGiB;
  EXPECT_EQ(p->num_kv_blocks, kv / in.kv_bytes_per_block);
  EXPECT_LE(p->kv_bytes, kv);
  EXPECT_NE(p->describe().find("blocks"), std::string::npos);
}

// The utilization is this process's budget, whatever other processes hold:
// a second server at 0.45 beside one holding 63 GiB gets the same KV blocks
// as the first; what this process already holds counts against its budget.
TEST(CudaMemoryPlanTest, UtilizationBudgetsThisProcessAlone) {
  MemoryPlanInputs first = h200_like();
  first.utilization = 0.45;
  first.in_use_at_start = 1 * kGiB;  // our context
  first.free_bytes = 138 * kGiB;     // and 1 GiB of NCCL buffers and cuBLASLt workspace since
  MemoryPlanInputs second = first;
  second.in_use_at_start = 64 * kGiB;  // the first server's 63 GiB, our context
  second.free_bytes = 75 * kGiB;
  StatusOr<CudaMemoryPlan> a = plan_device_memory(first), b = plan_device_memory(second);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  // 140 * 0.45 = 63 GiB, 1 held, 18 fixed: 44 GiB of KV each.
  const std::int64_t kv = static_cast<std::int64_t>(140 * kGiB * 0.45) - 1 * kGiB - 18 * kGiB;
  EXPECT_EQ(a->num_kv_blocks, kv / first.kv_bytes_per_block);
  EXPECT_EQ(b->num_kv_blocks, a->num_kv_blocks);
}

// A budget larger than what other processes left free is refused, naming the
// utilization that would fit (as vLLM refuses it).
TEST(CudaMemoryPlanTest, BudgetBeyondWhatOthersLeftIsRefused) {
  MemoryPlanInputs in = h200_like();
  in.in_use_at_start = 70 * kGiB;  // another server holds half the GPU
  in.free_bytes = 69 * kGiB;
  StatusOr<CudaMemoryPlan> p = plan_device_memory(in);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(p.status().message().find("use at most 0.50"), std::string::npos) << p.status().message();
  in.utilization = 0.5;
  EXPECT_TRUE(plan_device_memory(in).ok());
}

TEST(CudaMemoryPlanTest, CapAndExactCountAreHonoured) {
  MemoryPlanInputs in = h200_like();
  in.kv_cache_bytes_limit = 16 * kGiB;
  StatusOr<CudaMemoryPlan> p = plan_device_memory(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->num_kv_blocks, 16 * kGiB / in.kv_bytes_per_block);
  in.exact_num_blocks = 3000;
  p = plan_device_memory(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->num_kv_blocks, 3000);
}

TEST(CudaMemoryPlanTest, WeightsThatDoNotFitNameTheTpThatWould) {
  MemoryPlanInputs in = h200_like();
  in.weight_bytes = 130 * kGiB;  // a 65B model at tp 1
  in.total_weight_bytes_tp1 = 130 * kGiB;
  StatusOr<CudaMemoryPlan> p = plan_device_memory(in);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(p.status().message().find("--tp 2"), std::string::npos) << p.status().message();
}

TEST(CudaMemoryPlanTest, KvTooSmallForOneSequenceNamesTheLengthThatFits) {
  MemoryPlanInputs in = h200_like();
  in.kv_cache_bytes_limit = 1000 * in.kv_bytes_per_block;  // 16,000 tokens < 40,960
  StatusOr<CudaMemoryPlan> p = plan_device_memory(in);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("--max-model-len 16000"), std::string::npos) << p.status().message();
}

// With --kv-cache-bytes too small for one block: no "--max-model-len 0", and
// the cap, not the utilization, is what to raise.
TEST(CudaMemoryPlanTest, CapTooSmallForOneBlockAdvisesALargerCap) {
  MemoryPlanInputs in = h200_like();
  in.kv_cache_bytes_limit = in.kv_bytes_per_block / 2;
  StatusOr<CudaMemoryPlan> p = plan_device_memory(in);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().find("--max-model-len"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("a larger --kv-cache-bytes"), std::string::npos)
      << p.status().message();
  EXPECT_EQ(p.status().message().find("--gpu-memory-utilization"), std::string::npos) << p.status().message();
}

TEST(CudaMemoryPlanTest, ExactCountBeyondFreeMemoryIsRefused) {
  MemoryPlanInputs in = h200_like();
  in.exact_num_blocks = 1 << 24;
  StatusOr<CudaMemoryPlan> p = plan_device_memory(in);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("--num-kv-blocks"), std::string::npos);
}

TEST(CudaMemoryPlanTest, UtilizationOutOfRangeIsInvalid) {
  MemoryPlanInputs in = h200_like();
  in.utilization = 1.5;
  EXPECT_EQ(plan_device_memory(in).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pagoda::cuda
