// cuBLASLt for the SIMT emulator: pagoda::cuda::cublaslt_api() (which the
// real build loads from libcublasLt.so, cuda/cublaslt_api.cc) bound to a
// plain column-major matmul, enough for what CublasLtGemm asks: D = alpha *
// op(A) * op(B) + beta * C with bf16 or f32 A and B, f32 C and D, f32
// accumulation in k order, run in stream order (so graphs capture it). The
// heuristic offers two equal algorithms, so the timed choice runs too.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <new>

#include "base/bf16.h"
#include "cuda/cublaslt_api.h"
#include "tests/cuda/simt/simt_runtime.h"

struct cublasLtContext {};

namespace pagoda::cuda {
namespace {

struct Desc {
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
};
struct Layout {
  cudaDataType type;
  std::uint64_t rows, cols;
  std::int64_t ld;
};
static_assert(sizeof(Desc) <= sizeof(cublasLtMatmulDescOpaque_t));
static_assert(sizeof(Layout) <= sizeof(cublasLtMatrixLayoutOpaque_t));

Desc& desc(cublasLtMatmulDesc_t d) {
  return *reinterpret_cast<Desc*>(d);
}
const Layout& layout(cublasLtMatrixLayout_t l) {
  return *reinterpret_cast<const Layout*>(l);
}

cublasStatus_t create(cublasLtHandle_t* h) {
  *h = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t destroy(cublasLtHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
const char* status_name(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_NOT_SUPPORTED";
}
const char* status_string(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "success" : "not emulated";
}

cublasStatus_t matmul_desc_create(cublasLtMatmulDesc_t* d, cublasComputeType_t compute,
                                  cudaDataType_t scale) {
  if (compute != CUBLAS_COMPUTE_32F || scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  *d = new cublasLtMatmulDescOpaque_t{};
  new (*d) Desc;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t matmul_desc_destroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t matmul_desc_set_attribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
                                         const void* buf, size_t bytes) {
  if (bytes != sizeof(cublasOperation_t)) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (attr == CUBLASLT_MATMUL_DESC_TRANSA)
    return std::memcpy(&desc(d).trans_a, buf, bytes), CUBLAS_STATUS_SUCCESS;
  if (attr == CUBLASLT_MATMUL_DESC_TRANSB)
    return std::memcpy(&desc(d).trans_b, buf, bytes), CUBLAS_STATUS_SUCCESS;
  return CUBLAS_STATUS_NOT_SUPPORTED;
}

cublasStatus_t matrix_layout_create(cublasLtMatrixLayout_t* l, cudaDataType type, std::uint64_t rows,
                                    std::uint64_t cols, std::int64_t ld) {
  if ((type != CUDA_R_16BF && type != CUDA_R_32F) || ld < static_cast<std::int64_t>(rows))
    return CUBLAS_STATUS_INVALID_VALUE;
  *l = new cublasLtMatrixLayoutOpaque_t{};
  new (*l) Layout{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t matrix_layout_destroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t preference_create(cublasLtMatmulPreference_t* p) {
  *p = new cublasLtMatmulPreferenceOpaque_t{};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t preference_destroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t preference_set_attribute(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t,
                                        const void*, size_t) {
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t algo_get_heuristic(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
                                  cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                  cublasLtMatmulPreference_t, int requested,
                                  cublasLtMatmulHeuristicResult_t* results, int* returned) {
  *returned = requested < 2 ? requested : 2;
  for (int i = 0; i < *returned; ++i) {
    results[i] = cublasLtMatmulHeuristicResult_t{};
    results[i].algo.data[0] = static_cast<std::uint64_t>(i);
    results[i].state = CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_SUCCESS;
}

// Element (r, c) of a column-major matrix, as f32.
float element(const void* p, const Layout& l, std::uint64_t r, std::uint64_t c) {
  const std::uint64_t i = r + c * static_cast<std::uint64_t>(l.ld);
  if (l.type == CUDA_R_32F) return static_cast<const float*>(p)[i];
  return bf16_to_f32(static_cast<const std::uint16_t*>(p)[i]);
}

cublasStatus_t matmul(cublasLtHandle_t, cublasLtMatmulDesc_t d, const void* alpha, const void* a,
                      cublasLtMatrixLayout_t la, const void* b, cublasLtMatrixLayout_t lb, const void* beta,
                      const void* c, cublasLtMatrixLayout_t lc, void* out, cublasLtMatrixLayout_t lout,
                      const cublasLtMatmulAlgo_t*, void*, size_t, cudaStream_t stream) {
  const Desc op = desc(d);
  const Layout A = layout(la), B = layout(lb), C = layout(lc), D = layout(lout);
  const bool ta = op.trans_a == CUBLAS_OP_T, tb = op.trans_b == CUBLAS_OP_T;
  const std::uint64_t m = ta ? A.cols : A.rows, k = ta ? A.rows : A.cols;
  const std::uint64_t n = tb ? B.rows : B.cols;
  if ((tb ? B.cols : B.rows) != k || C.rows != m || C.cols != n || D.rows != m || D.cols != n ||
      C.type != CUDA_R_32F || D.type != CUDA_R_32F)
    return CUBLAS_STATUS_INVALID_VALUE;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  const cudaError_t e = simt::enqueue(stream, [=] {
    for (std::uint64_t j = 0; j < n; ++j) {
      for (std::uint64_t i = 0; i < m; ++i) {
        float acc = 0.0f;
        for (std::uint64_t kk = 0; kk < k; ++kk)
          acc += element(a, A, ta ? kk : i, ta ? i : kk) * element(b, B, tb ? j : kk, tb ? kk : j);
        const float prior = be != 0.0f ? be * element(c, C, i, j) : 0.0f;
        static_cast<float*>(out)[i + j * static_cast<std::uint64_t>(D.ld)] = al * acc + prior;
      }
    }
  });
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

StatusOr<const CublasLtApi*> cublaslt_api() {
  static const CublasLtApi api = [] {
    CublasLtApi t;
    t.create = create;
    t.destroy = destroy;
    t.status_name = status_name;
    t.status_string = status_string;
    t.matmul_desc_create = matmul_desc_create;
    t.matmul_desc_destroy = matmul_desc_destroy;
    t.matmul_desc_set_attribute = matmul_desc_set_attribute;
    t.matrix_layout_create = matrix_layout_create;
    t.matrix_layout_destroy = matrix_layout_destroy;
    t.preference_create = preference_create;
    t.preference_destroy = preference_destroy;
    t.preference_set_attribute = preference_set_attribute;
    t.algo_get_heuristic = algo_get_heuristic;
    t.matmul = matmul;
    return t;
  }();
  return &api;
}

}  // namespace pagoda::cuda
