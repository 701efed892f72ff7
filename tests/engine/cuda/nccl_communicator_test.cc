#include "engine/cuda/nccl_communicator.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "cuda/cuda_device.h"

namespace pagoda::cuda {
namespace {

// Every rank holds data[i] = (rank + 1) * i + 0.5; after the all-reduce each
// holds the sum over ranks; the all-gather lays ranks' vectors end to end.
// With `warm_up`, the group's collectives are warmed up first (at other sizes).
void check_group(int n, bool warm_up = false) {
  std::vector<int> devices;
  for (int i = 0; i < n; ++i)
    devices.push_back(i);
  auto group = NcclCommunicator::create_group(devices);
  ASSERT_TRUE(group.ok()) << group.status().to_string();
  if (warm_up) {
    const Status s = NcclCommunicator::warm_up(*group, 4096, 777, 60);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  const int count = 1000;
  std::vector<std::thread> threads;
  std::vector<std::vector<float>> reduced(static_cast<std::size_t>(n)), gathered(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      NcclCommunicator& c = *(*group)[static_cast<std::size_t>(r)];
      ASSERT_EQ(cudaSetDevice(c.device()), cudaSuccess);
      std::vector<float> host(count);
      for (int i = 0; i < count; ++i)
        host[static_cast<std::size_t>(i)] = static_cast<float>((r + 1) * i) + 0.5f;
      float *d = nullptr, *g = nullptr;
      ASSERT_EQ(cudaMalloc(&d, count * sizeof(float)), cudaSuccess);
      ASSERT_EQ(cudaMalloc(&g, static_cast<std::size_t>(n) * count * sizeof(float)), cudaSuccess);
      ASSERT_EQ(cudaMemcpy(d, host.data(), count * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
      c.all_gather(d, count, g);
      c.all_reduce_sum(d, count);
      c.barrier();
      EXPECT_TRUE(c.error().ok()) << c.error().to_string();
      reduced[static_cast<std::size_t>(r)].resize(count);
      gathered[static_cast<std::size_t>(r)].resize(static_cast<std::size_t>(n) * count);
      cudaMemcpy(reduced[static_cast<std::size_t>(r)].data(), d, count * sizeof(float),
                 cudaMemcpyDeviceToHost);
      cudaMemcpy(gathered[static_cast<std::size_t>(r)].data(), g,
                 static_cast<std::size_t>(n) * count * sizeof(float), cudaMemcpyDeviceToHost);
      cudaFree(d);
      cudaFree(g);
    });
  }
  for (auto& t : threads)
    t.join();
  for (int r = 0; r < n; ++r) {
    for (int i = 0; i < count; ++i) {
      float want = 0;
      for (int k = 0; k < n; ++k)
        want += static_cast<float>((k + 1) * i) + 0.5f;
      ASSERT_FLOAT_EQ(reduced[static_cast<std::size_t>(r)][static_cast<std::size_t>(i)], want);
      for (int k = 0; k < n; ++k) {
        ASSERT_FLOAT_EQ(gathered[static_cast<std::size_t>(r)][static_cast<std::size_t>(k * count + i)],
                        static_cast<float>((k + 1) * i) + 0.5f);
      }
    }
  }
}

TEST(NcclCommunicatorTest, SingleRankCollectivesAreIdentity) {
  if (list_devices().empty()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  check_group(1);
}

TEST(NcclCommunicatorTest, TwoRanksSumAndGather) {
  if (list_devices().size() < 2) GTEST_SKIP() << "needs two CUDA devices";
  check_group(2);
}

// The warm-up before memory planning runs every rank's collectives at once
// and leaves the group as it found it.
TEST(NcclCommunicatorTest, WarmedUpGroupStillSumsAndGathers) {
  const int n = std::min<int>(static_cast<int>(list_devices().size()), 2);
  if (n == 0) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  check_group(n, /*warm_up=*/true);
}

// A device that does not exist is an error before any rank joins (NCCL would
// have rank 0 wait for ever at the group's end for the rank that cannot), and
// leaves the thread's NCCL state clean: no group left open to swallow its
// later collectives.
TEST(NcclCommunicatorTest, FailedRankInitLeavesNoGroupOpen) {
  if (list_devices().empty()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  auto id = NcclCommunicator::new_unique_id();
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  auto failed = NcclCommunicator::create_ranks({0, 1 << 20}, *id, 0, 2);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kInvalidArgument) << failed.status().to_string();
  EXPECT_NE(failed.status().message().find("device 1048576 does not exist"), std::string::npos)
      << failed.status().to_string();
  // A collective on this same thread runs (NCCL would hold it back in a group).
  auto group = NcclCommunicator::create_group({0});
  ASSERT_TRUE(group.ok()) << group.status().to_string();
  NcclCommunicator& c = *(*group)[0];
  ASSERT_EQ(cudaSetDevice(c.device()), cudaSuccess);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, sizeof(float)), cudaSuccess);
  const float two = 2.0f;
  ASSERT_EQ(cudaMemcpy(d, &two, sizeof two, cudaMemcpyHostToDevice), cudaSuccess);
  c.all_reduce_sum(d, 1);
  EXPECT_TRUE(c.error().ok()) << c.error().to_string();
  float back = 0.0f;
  ASSERT_EQ(cudaMemcpy(&back, d, sizeof back, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back, 2.0f);
  cudaFree(d);
}

}  // namespace
}  // namespace pagoda::cuda
