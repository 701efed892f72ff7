#include "cuda/cuda_device.h"

#include <cuda_runtime_api.h>
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

// Every Pagoda build includes sm_90 code (PAGODA_CUDA_ARCHITECTURES "80;90",
// `make device-build` "90"), so on Hopper its kernels wait in a programmatic
// launch and --pdl can take effect; on an sm_80 GPU they run sm_80 code.
TEST(CudaDeviceTest, HopperRunsKernelsThatWaitForProgrammaticLaunch) {
  auto devices = list_devices();
  if (devices.empty()) GTEST_SKIP() << "no CUDA device present: " << no_device_reason();
  ASSERT_EQ(cudaSetDevice(devices[0].index), cudaSuccess);
  EXPECT_EQ(kernels_wait_for_programmatic_launch(), devices[0].compute_major >= 9)
      << devices[0].name << ", compute capability " << devices[0].compute_major;
}

}  // namespace
}  // namespace pagoda::cuda
