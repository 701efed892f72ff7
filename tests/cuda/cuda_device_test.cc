#include "cuda/cuda_device.h"

#include <gtest/gtest.h>

namespace pagoda::cuda {
namespace {

TEST(CudaDeviceTest, RuntimeVersionIsKnown) {
  EXPECT_FALSE(runtime_version().empty());
}

TEST(CudaDeviceTest, DevicesReportSaneProperties) {
  auto devices = list_devices();
  if (devices.empty()) GTEST_SKIP() << "no CUDA device present: " << no_device_reason();
  for (const auto& d : devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.compute_major, 8) << "Pagoda's kernels are compiled for sm_80 and sm_90";
    EXPECT_GT(d.total_memory_bytes, 0u);
    EXPECT_GT(d.num_sms, 0);
  }
}

}  // namespace
}  // namespace pagoda::cuda
