#include "cuda/cublaslt_gemm.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/cuda_status.h"

namespace pagoda::cuda {

// Row-major y[m, n] = x[m, k] · w[n, k]ᵀ is column-major yᵀ[n, m] = w · xᵀ:
// A = w seen as column-major [k, n] and transposed, B = x seen as [k, m].
struct CublasLtGemm::Plan {
  const CublasLtApi* api = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (a != nullptr) api->matrix_layout_destroy(a);
    if (b != nullptr) api->matrix_layout_destroy(b);
    if (c != nullptr) api->matrix_layout_destroy(c);
  }
};

Status CublasLtGemm::check(cublasStatus_t st, const char* what) const {
  if (st == CUBLAS_STATUS_SUCCESS) return ok_status();
  return internal_error(std::string(what) + ": " + api_->status_name(st) + " (" + api_->status_string(st) +
                        ")");
}

StatusOr<std::unique_ptr<CublasLtGemm>> CublasLtGemm::create(std::size_t workspace_bytes) {
  auto g = std::unique_ptr<CublasLtGemm>(new CublasLtGemm());
  PAGODA_ASSIGN_OR_RETURN(g->api_, cublaslt_api());
  const CublasLtApi& api = *g->api_;
  PAGODA_RETURN_IF_ERROR(g->check(api.create(&g->handle_), "cublasLtCreate"));
  PAGODA_RETURN_IF_ERROR(
      g->check(api.matmul_desc_create(&g->op_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate"));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  PAGODA_RETURN_IF_ERROR(
      g->check(api.matmul_desc_set_attribute(g->op_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "TRANSA"));
  PAGODA_RETURN_IF_ERROR(
      g->check(api.matmul_desc_set_attribute(g->op_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "TRANSB"));
  PAGODA_ASSIGN_OR_RETURN(g->workspace_, DeviceBuffer::allocate(workspace_bytes, "the cuBLASLt workspace"));
  return g;
}

CublasLtGemm::~CublasLtGemm() {
  plans_.clear();
  if (op_ != nullptr) api_->matmul_desc_destroy(op_);
  if (handle_ != nullptr) api_->destroy(handle_);
}

StatusOr<cublasLtMatmulAlgo_t> CublasLtGemm::fastest(
    const Plan& plan, const GemmArgs& a, const std::vector<cublasLtMatmulHeuristicResult_t>& candidates,
    cudaStream_t stream) {
  constexpr int kWarmup = 2, kTimed = 5;
  cudaEvent_t start = nullptr, stop = nullptr;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaEventCreate(&start));
  if (const cudaError_t e = cudaEventCreate(&stop); e != cudaSuccess) {
    cudaEventDestroy(start);
    return cuda_status(e, "cudaEventCreate");
  }
  const float alpha = 1.0f, beta = 0.0f;
  float best_ms = 0.0f;
  int best = -1;
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    const cublasLtMatmulAlgo_t* algo = &candidates[c].algo;
    auto launch = [&] {
      return api_->matmul(handle_, op_, &alpha, a.w, plan.a, a.x, plan.b, &beta, a.y, plan.c, a.y, plan.c,
                          algo, workspace_.get(), workspace_.bytes(), stream);
    };
    bool ok = true;
    for (int i = 0; i < kWarmup && ok; ++i)
      ok = launch() == CUBLAS_STATUS_SUCCESS;
    std::vector<float> ms;
    for (int i = 0; i < kTimed && ok; ++i) {
      cudaEventRecord(start, stream);
      ok = launch() == CUBLAS_STATUS_SUCCESS;
      cudaEventRecord(stop, stream);
      float t = 0.0f;
      ok = ok && cudaEventSynchronize(stop) == cudaSuccess &&
           cudaEventElapsedTime(&t, start, stop) == cudaSuccess;
      ms.push_back(t);
    }
    if (!ok) continue;  // a candidate that fails is skipped, not an error
    std::sort(ms.begin(), ms.end());
    if (best < 0 || ms[ms.size() / 2] < best_ms) {
      best_ms = ms[ms.size() / 2];
      best = static_cast<int>(c);
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGetLastError();
  if (best < 0) return internal_error("no cuBLASLt candidate ran for m=" + std::to_string(a.m));
  return candidates[static_cast<std::size_t>(best)].algo;
}

StatusOr<const CublasLtGemm::Plan*> CublasLtGemm::plan_for(const GemmArgs& a, cudaStream_t stream) {
  const Key key{a.m, a.n, a.k, a.ldx, a.ldw, a.ldy};
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  plan->api = api_;
  const CublasLtApi& api = *api_;
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  PAGODA_RETURN_IF_ERROR(
      check(api.matrix_layout_create(&plan->a, CUDA_R_16BF, u(a.k), u(a.n), a.ldw), "layout w"));
  PAGODA_RETURN_IF_ERROR(
      check(api.matrix_layout_create(&plan->b, CUDA_R_16BF, u(a.k), u(a.m), a.ldx), "layout x"));
  PAGODA_RETURN_IF_ERROR(
      check(api.matrix_layout_create(&plan->c, CUDA_R_32F, u(a.n), u(a.m), a.ldy), "layout y"));
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaStreamIsCapturing(stream, &capturing));
  const bool tune = a.m <= autotune_max_m_ && capturing == cudaStreamCaptureStatusNone;
  cublasLtMatmulPreference_t pref = nullptr;
  PAGODA_RETURN_IF_ERROR(check(api.preference_create(&pref), "cublasLtMatmulPreferenceCreate"));
  const std::size_t ws = workspace_.bytes();
  cublasStatus_t st =
      api.preference_set_attribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  std::vector<cublasLtMatmulHeuristicResult_t> results(tune ? 16 : 1);
  int returned = 0;
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = api.algo_get_heuristic(handle_, op_, plan->a, plan->b, plan->c, plan->c, pref,
                                static_cast<int>(results.size()), results.data(), &returned);
  }
  api.preference_destroy(pref);
  PAGODA_RETURN_IF_ERROR(check(st, "cublasLtMatmulAlgoGetHeuristic"));
  if (returned == 0) {
    return internal_error("cuBLASLt has no bf16 algorithm for m=" + std::to_string(a.m) +
                          " n=" + std::to_string(a.n) + " k=" + std::to_string(a.k));
  }
  results.resize(static_cast<std::size_t>(returned));
  if (tune && returned > 1) {
    PAGODA_ASSIGN_OR_RETURN(plan->algo, fastest(*plan, a, results, stream));
    ++num_timed_plans_;
  } else {
    plan->algo = results[0].algo;
  }
  const Plan* raw = plan.get();
  plans_.emplace(key, std::move(plan));
  return raw;
}

Status CublasLtGemm::run(const GemmArgs& a, cudaStream_t stream) {
  if (a.m == 0) return ok_status();
  PAGODA_ASSIGN_OR_RETURN(const Plan* plan, plan_for(a, stream));
  const float alpha = 1.0f, beta = 0.0f;
  return check(api_->matmul(handle_, op_, &alpha, a.w, plan->a, a.x, plan->b, &beta, a.y, plan->c, a.y,
                            plan->c, &plan->algo, workspace_.get(), workspace_.bytes(), stream),
               "cublasLtMatmul");
}

}  // namespace pagoda::cuda
