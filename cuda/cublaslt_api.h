// The cuBLASLt functions Pagoda calls, loaded from libcublasLt.so at first use
// instead of linked. Linking it puts its ~94 KB of thread-local storage into
// every thread's static TLS block, and civetweb (the Prometheus exposer's HTTP
// server) then fails to create its small-stack threads; loading it also lets
// a CUDA-enabled binary start on machines without the CUDA libraries.
// Thread-safe; the table lives for the whole process.
#pragma once

#include <cublasLt.h>

#include "base/status.h"

namespace pagoda::cuda {

struct CublasLtApi {
  decltype(&cublasLtCreate) create = nullptr;
  decltype(&cublasLtDestroy) destroy = nullptr;
  decltype(&cublasLtGetStatusName) status_name = nullptr;
  decltype(&cublasLtGetStatusString) status_string = nullptr;
  decltype(&cublasLtMatmulDescCreate) matmul_desc_create = nullptr;
  decltype(&cublasLtMatmulDescDestroy) matmul_desc_destroy = nullptr;
  decltype(&cublasLtMatmulDescSetAttribute) matmul_desc_set_attribute = nullptr;
  decltype(&cublasLtMatrixLayoutCreate) matrix_layout_create = nullptr;
  decltype(&cublasLtMatrixLayoutDestroy) matrix_layout_destroy = nullptr;
  decltype(&cublasLtMatmulPreferenceCreate) preference_create = nullptr;
  decltype(&cublasLtMatmulPreferenceDestroy) preference_destroy = nullptr;
  decltype(&cublasLtMatmulPreferenceSetAttribute) preference_set_attribute = nullptr;
  decltype(&cublasLtMatmulAlgoGetHeuristic) algo_get_heuristic = nullptr;
  decltype(&cublasLtMatmul) matmul = nullptr;
};

// The loaded table, or an error naming the library and what is missing.
StatusOr<const CublasLtApi*> cublaslt_api();

}  // namespace pagoda::cuda
