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
