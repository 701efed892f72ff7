// CudaGemm: one rank's y = x · wᵀ, on the kernel GemmKernelChoice picks for
// each shape (cuBLASLt, the skinny GEMM, the tiled tensor-core GEMM; always
// the tiled one in the batch-invariant mode), timing the candidates of new
// shapes at start-up. Owned and used by its rank's thread, on that rank's
// device and stream.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "cuda/cublaslt_gemm.h"
#include "cuda/device_buffer.h"
#include "cuda/launch_order.h"
#include "cuda/skinny_gemm_kernel.h"
#include "engine/cuda/cuda_weights.h"
#include "engine/cuda/gemm_kernel_choice.h"

namespace pagoda::cuda {

class CudaGemm {
 public:
  struct Setup {
    cudaStream_t stream = nullptr;
    LaunchOrder order = LaunchOrder::kSerial;
    int num_sms = 0;
    bool batch_invariant = false;
    bool tune = true;  // time new shapes (until stop_tuning)
    std::function<double(GemmKernel, const GemmShape&)> timer =
        nullptr;  // tests: in place of the device's timing
  };
  CudaGemm(std::unique_ptr<CublasLtGemm> cublaslt, Setup setup);

  // y [m, ldy: 0 = w.rows] = x [m, w.cols] · wᵀ, enqueued on the stream.
  // While tuning, a new shape's candidates are timed first; `drain` waits
  // for the stream's earlier work before that (so that the timing waits on
  // GEMMs only, never on a collective a failed peer will not join).
  Status run(const std::uint16_t* x, const DeviceMatrix& w, float* y, std::int64_t m, std::int64_t ldy,
             const std::function<Status()>& drain);
  // The skinny GEMM's arguments for y = x · wᵀ (ldy 0: w.rows).
  SkinnyGemmParams skinny_params(const std::uint16_t* x, const DeviceMatrix& w, float* y, std::int64_t m,
                                 std::int64_t ldy = 0) const;

  // Ends start-up's timing (and cuBLASLt's): later shapes take the fixed rule.
  void stop_tuning();
  // Timings made: shapes whose kernel, or whose cuBLASLt algorithm, was timed.
  std::size_t num_timings() const { return choice_.num_timed() + cublaslt_->num_timed_plans(); }
  // What the timing chose, for the start-up log.
  std::string describe() const;

 private:
  // ms per product of kernel k (run), or -1 (GemmKernelChoice's timer).
  double time(const std::function<Status(GemmKernel)>& run, GemmKernel k);

  std::unique_ptr<CublasLtGemm> cublaslt_;
  Setup setup_;
  GemmKernelChoice choice_;
  DeviceBuffer l2_flush_;  // written between timed runs; freed when start-up's timing ends
};

}  // namespace pagoda::cuda
