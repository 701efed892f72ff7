// CublasLtGemm: y = x · wᵀ in bf16 with f32 accumulation and f32 output, the
// layout of every projection in the model (x [m, k] activations, w [n, k]
// weights, both row-major). The algorithm for each shape is chosen once and
// cached, so a shape always runs the same kernel (the same numbers every
// replay, and safe inside CUDA graphs): for m <= autotune_max_m by timing
// cuBLASLt's candidates on the first call (skinny decode GEMMs, where the
// heuristic's first pick can be far from the best), otherwise the heuristic's
// first pick. Timing stalls that call for a few to tens of ms, so the runner
// times only at start-up (set_autotune_max_m(0) after). Owned and used by one
// thread, on the device that was current when it was created.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "base/status.h"
#include "cuda/cublaslt_api.h"
#include "cuda/device_buffer.h"

namespace pagoda::cuda {

struct GemmArgs {
  const std::uint16_t* x = nullptr;  // [m, k] bf16, row stride ldx
  const std::uint16_t* w = nullptr;  // [n, k] bf16, row stride ldw
  float* y = nullptr;                // [m, n] f32, row stride ldy
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t ldx = 0, ldw = 0, ldy = 0;
};

class CublasLtGemm {
 public:
  [[nodiscard]] static StatusOr<std::unique_ptr<CublasLtGemm>> create(std::size_t workspace_bytes);
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  // Enqueues the product on `stream`. m == 0 is a no-op. A shape's first call
  // may time candidates on `stream` (synchronously; never while capturing).
  Status run(const GemmArgs& a, cudaStream_t stream);
  std::size_t num_cached_plans() const { return plans_.size(); }
  // Of those, the shapes whose algorithm was chosen by timing.
  std::size_t num_timed_plans() const { return num_timed_plans_; }
  // 0 turns timing off (the heuristic's first pick for every shape).
  void set_autotune_max_m(std::int64_t m) { autotune_max_m_ = m; }

 private:
  struct Plan;
  using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
  CublasLtGemm() = default;
  StatusOr<const Plan*> plan_for(const GemmArgs& a, cudaStream_t stream);
  // The fastest of `candidates` on this shape, by median of a few timed runs.
  StatusOr<cublasLtMatmulAlgo_t> fastest(const Plan& plan, const GemmArgs& a,
                                         const std::vector<cublasLtMatmulHeuristicResult_t>& candidates,
                                         cudaStream_t stream);
  Status check(cublasStatus_t st, const char* what) const;

  const CublasLtApi* api_ = nullptr;
  cublasLtHandle_t handle_ = nullptr;
  cublasLtMatmulDesc_t op_ = nullptr;
  DeviceBuffer workspace_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
  std::int64_t autotune_max_m_ = 512;
  std::size_t num_timed_plans_ = 0;
};

}  // namespace pagoda::cuda
