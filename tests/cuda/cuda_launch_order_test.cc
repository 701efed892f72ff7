// Programmatic launches (cuda/launch_order.h) against plain ones: a chain of
// kernels where each reads what the one before wrote and overwrites what it
// read — residual add + RMSNorm, then a decode GEMM writing the next add —
// must give the same bits eagerly, replayed from a captured graph, and with
// serial launches. A kernel that touched memory before its wait would race
// with its predecessor and change the result.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "cuda/add_rms_norm_kernel.h"
#include "cuda/launch_order.h"
#include "cuda/skinny_gemm_kernel.h"
#include "tests/cuda/kernel_test_util.h"

namespace pagoda::cuda::kernel_test {
namespace {

constexpr std::int64_t kRows = 3, kHidden = 1024, kLinks = 40;

class CudaLaunchOrderTest : public CudaKernelTest {
 protected:
  void SetUp() override {
    CudaKernelTest::SetUp();
    if (IsSkipped()) return;
    int major = 0;
    PAGODA_ASSERT_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
    if (major < 9) GTEST_SKIP() << "programmatic launches need compute capability 9.0";
    std::mt19937 rng(5);
    residual0_ = random_f32(rng, kRows * kHidden, -1.0f, 1.0f);
    add0_ = random_f32(rng, kRows * kHidden, -1.0f, 1.0f);
    // Weights ~ 1/sqrt(hidden): each link's add keeps the scale of the last.
    ASSERT_NO_FATAL_FAILURE(upload(random_bf16(rng, kHidden * kHidden, -0.05f, 0.05f), &w_));
    ASSERT_NO_FATAL_FAILURE(upload(random_bf16(rng, kHidden, 0.5f, 1.5f), &norm_weight_));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<std::uint16_t>(kRows * kHidden, &normed_));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(kRows * kHidden, &residual_));
    ASSERT_NO_FATAL_FAILURE(alloc_poisoned<float>(kRows * kHidden, &add_));
    PAGODA_ASSERT_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    // The buffers were filled on the legacy stream, which a non-blocking one
    // does not wait for (cudaMemset and a pageable cudaMemcpy can return
    // before the device is done).
    ASSERT_NO_FATAL_FAILURE(sync_device());
  }
  void TearDown() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  // Every run starts from the same inputs, in the same buffers (a captured
  // graph holds their addresses).
  void reset() {
    PAGODA_ASSERT_CUDA(
        cudaMemcpy(residual_.get(), residual0_.data(), residual_.bytes(), cudaMemcpyHostToDevice));
    PAGODA_ASSERT_CUDA(cudaMemcpy(add_.get(), add0_.data(), add_.bytes(), cudaMemcpyHostToDevice));
    ASSERT_NO_FATAL_FAILURE(sync_device());  // before stream_ reads them (SetUp says why)
  }

  // kLinks x (residual += add; normed = norm(residual); add = normed · wᵀ).
  cudaError_t enqueue_chain(LaunchOrder order) {
    AddRmsNormParams norm;
    norm.residual = residual_.as<float>();
    norm.add = add_.as<float>();
    norm.write_residual = true;
    norm.weight = norm_weight_.as<std::uint16_t>();
    norm.out = normed_.as<std::uint16_t>();
    norm.rows = kRows;
    norm.hidden = kHidden;
    const SkinnyGemmParams gemm{normed_.as<std::uint16_t>(),
                                w_.as<std::uint16_t>(),
                                add_.as<float>(),
                                kRows,
                                kHidden,
                                kHidden,
                                kHidden,
                                kHidden,
                                kHidden,
                                0};
    for (std::int64_t i = 0; i < kLinks; ++i) {
      if (cudaError_t e = launch_add_rms_norm(norm, stream_, order); e != cudaSuccess) return e;
      if (cudaError_t e = launch_skinny_gemm(gemm, stream_, order); e != cudaSuccess) return e;
    }
    return cudaSuccess;
  }

  void result(std::vector<float>* residual) {
    PAGODA_ASSERT_CUDA(cudaStreamSynchronize(stream_));
    ASSERT_NO_FATAL_FAILURE(download(residual_, residual));
  }

  std::vector<float> residual0_, add0_;
  DeviceBuffer w_, norm_weight_, normed_, residual_, add_;
  cudaStream_t stream_ = nullptr;
};

TEST_F(CudaLaunchOrderTest, ProgrammaticChainMatchesSerialChain) {
  std::vector<float> serial, eager, replayed;
  ASSERT_NO_FATAL_FAILURE(reset());
  PAGODA_ASSERT_CUDA(enqueue_chain(LaunchOrder::kSerial));
  ASSERT_NO_FATAL_FAILURE(result(&serial));
  ASSERT_EQ(count_non_finite(serial), 0);

  ASSERT_NO_FATAL_FAILURE(reset());
  PAGODA_ASSERT_CUDA(enqueue_chain(LaunchOrder::kProgrammatic));
  ASSERT_NO_FATAL_FAILURE(result(&eager));
  EXPECT_EQ(eager, serial);

  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  PAGODA_ASSERT_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  const cudaError_t enqueued = enqueue_chain(LaunchOrder::kProgrammatic);
  PAGODA_ASSERT_CUDA(cudaStreamEndCapture(stream_, &graph));
  PAGODA_ASSERT_CUDA(enqueued);
  PAGODA_ASSERT_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  for (int run = 0; run < 3; ++run) {
    ASSERT_NO_FATAL_FAILURE(reset());
    PAGODA_ASSERT_CUDA(cudaGraphLaunch(exec, stream_));
    ASSERT_NO_FATAL_FAILURE(result(&replayed));
    EXPECT_EQ(replayed, serial) << "replay " << run;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

}  // namespace
}  // namespace pagoda::cuda::kernel_test
