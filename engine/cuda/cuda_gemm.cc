#include "engine/cuda/cuda_gemm.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <span>
#include <utility>

#include "cuda/cuda_status.h"
#include "cuda/invariant_gemm_kernel.h"

namespace pagoda::cuda {

CudaGemm::CudaGemm(std::unique_ptr<CublasLtGemm> cublaslt, Setup setup)
    : cublaslt_(std::move(cublaslt)), setup_(std::move(setup)) {
  if (!setup_.tune) cublaslt_->set_autotune_max_m(0);
}

void CudaGemm::stop_tuning() {
  setup_.tune = false;
  cublaslt_->set_autotune_max_m(0);
  l2_flush_.reset();
}

SkinnyGemmParams CudaGemm::skinny_params(const std::uint16_t* x, const DeviceMatrix& w, float* y,
                                         std::int64_t m, std::int64_t ldy) const {
  return SkinnyGemmParams{
      x, w.data, y, m, w.rows, w.cols, w.cols, w.cols, ldy > 0 ? ldy : w.rows, setup_.num_sms};
}

Status CudaGemm::run(const std::uint16_t* x, const DeviceMatrix& w, float* y, std::int64_t m,
                     std::int64_t ldy, const std::function<Status()>& drain) {
  const SkinnyGemmParams sp = skinny_params(x, w, y, m, ldy);
  InvariantGemmParams ip{sp.x, sp.w, y, m, sp.n, sp.k, sp.ldx, sp.ldw, sp.ldy};
  ip.block_rows = invariant_gemm_block_rows(m);
  const GemmArgs a{x, w.data, y, m, sp.n, sp.k, sp.ldx, sp.ldw, sp.ldy};
  const auto run = [&](GemmKernel k) -> Status {
    switch (k) {
      case GemmKernel::kSkinny:
        return cuda_status(launch_skinny_gemm(sp, setup_.stream, setup_.order), "launch_skinny_gemm");
      case GemmKernel::kTiled:
        return cuda_status(launch_invariant_gemm(ip, setup_.stream, setup_.order), "launch_invariant_gemm");
      case GemmKernel::kCublasLt:
        break;
    }
    return cublaslt_->run(a, setup_.stream);
  };
  if (setup_.batch_invariant) return run(GemmKernel::kTiled);
  std::array<GemmKernel, 3> candidates = {GemmKernel::kCublasLt};
  std::size_t count = 1;
  if (skinny_gemm_supports(sp)) candidates[count++] = GemmKernel::kSkinny;
  if (invariant_gemm_supports(ip)) candidates[count++] = GemmKernel::kTiled;
  const GemmShape shape{m, sp.n, sp.k, sp.ldy};
  bool may_time = false;
  if (setup_.tune) {  // start-up: time new shapes, unless capturing a graph
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    PAGODA_CUDA_RETURN_IF_ERROR(cudaStreamIsCapturing(setup_.stream, &capturing));
    may_time = capturing == cudaStreamCaptureStatusNone;
  }
  const std::span<const GemmKernel> can_run(candidates.data(), count);
  // A step's GEMMs: the kept kernel or the fixed rule, no timer built.
  if (!choice_.times(shape, count, may_time)) return run(choice_.choose(shape, can_run, false, nullptr));
  if (!setup_.timer) PAGODA_RETURN_IF_ERROR(drain());
  return run(choice_.choose(shape, can_run, true, [&](GemmKernel candidate) {
    return setup_.timer ? setup_.timer(candidate, shape) : time(run, candidate);
  }));
}

// One warm-up run (cuBLASLt times its own algorithms in it), then kTimedRuns
// runs, each after a write of twice the L2's size (so its weights come from
// HBM, as in a step, where each layer has its own) and between its own two
// events; the median, or -1 when a run fails.
double CudaGemm::time(const std::function<Status(GemmKernel)>& run, GemmKernel k) {
  constexpr int kTimedRuns = 7;
  if (!run(k).ok()) return -1.0;
  if (l2_flush_.bytes() == 0) {
    int device = 0, l2_bytes = 0;
    if (cudaGetDevice(&device) == cudaSuccess &&
        cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device) == cudaSuccess && l2_bytes > 0) {
      auto b = DeviceBuffer::allocate(2 * static_cast<std::size_t>(l2_bytes), "the L2 flush for GEMM timing");
      if (b.ok()) l2_flush_ = std::move(b).value();  // else timed with warm L2
    }
    cudaGetLastError();
  }
  std::array<cudaEvent_t, 2 * kTimedRuns> events{};
  bool ok = true;
  for (cudaEvent_t& e : events)
    ok = ok && cudaEventCreate(&e) == cudaSuccess;
  for (int i = 0; i < kTimedRuns && ok; ++i) {
    if (l2_flush_.bytes() > 0)
      ok = cudaMemsetAsync(l2_flush_.get(), i, l2_flush_.bytes(), setup_.stream) == cudaSuccess;
    ok = ok && cudaEventRecord(events[2 * i], setup_.stream) == cudaSuccess && run(k).ok() &&
         cudaEventRecord(events[2 * i + 1], setup_.stream) == cudaSuccess;
  }
  std::array<float, kTimedRuns> ms{};
  ok = ok && cudaEventSynchronize(events.back()) == cudaSuccess;
  for (int i = 0; i < kTimedRuns && ok; ++i)
    ok = cudaEventElapsedTime(&ms[i], events[2 * i], events[2 * i + 1]) == cudaSuccess;
  for (cudaEvent_t e : events) {
    if (e != nullptr) cudaEventDestroy(e);
  }
  cudaGetLastError();  // a refused candidate's launch error is not the step's
  if (!ok) return -1.0;
  std::sort(ms.begin(), ms.end());
  return ms[kTimedRuns / 2];
}

std::string CudaGemm::describe() const {
  std::size_t counts[3] = {0, 0, 0};
  for (const auto& [shape, k] : choice_.timed())
    ++counts[static_cast<int>(k)];
  std::string s = "GEMM kernels timed for " + std::to_string(choice_.num_timed()) + " shapes (fastest: ";
  for (const GemmKernel k : {GemmKernel::kCublasLt, GemmKernel::kSkinny, GemmKernel::kTiled}) {
    if (k != GemmKernel::kCublasLt) s += ", ";
    s += std::string(gemm_kernel_name(k)) + " " + std::to_string(counts[static_cast<int>(k)]);
  }
  return s + "; cuBLASLt algorithms timed for " + std::to_string(cublaslt_->num_timed_plans()) + ")";
}

}  // namespace pagoda::cuda
