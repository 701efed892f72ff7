#include "cuda/cublaslt_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace pagoda::cuda {
namespace {

// The soname of the cuBLAS this binary was compiled against (CUDA 13: .so.13).
std::string library_name() {
  return "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR);
}

StatusOr<CublasLtApi> load() {
  const std::string name = library_name();
  void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return failed_precondition("cannot load " + name + " (the CUDA backend needs cuBLAS): " +
                               (err != nullptr ? err : "unknown error"));
  }
  CublasLtApi api;
  std::string missing;
  auto bind = [&](auto& fn, const char* symbol) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, symbol));
    if (fn == nullptr) missing += std::string(missing.empty() ? "" : ", ") + symbol;
  };
  bind(api.create, "cublasLtCreate");
  bind(api.destroy, "cublasLtDestroy");
  bind(api.status_name, "cublasLtGetStatusName");
  bind(api.status_string, "cublasLtGetStatusString");
  bind(api.matmul_desc_create, "cublasLtMatmulDescCreate");
  bind(api.matmul_desc_destroy, "cublasLtMatmulDescDestroy");
  bind(api.matmul_desc_set_attribute, "cublasLtMatmulDescSetAttribute");
  bind(api.matrix_layout_create, "cublasLtMatrixLayoutCreate");
  bind(api.matrix_layout_destroy, "cublasLtMatrixLayoutDestroy");
  bind(api.preference_create, "cublasLtMatmulPreferenceCreate");
  bind(api.preference_destroy, "cublasLtMatmulPreferenceDestroy");
  bind(api.preference_set_attribute, "cublasLtMatmulPreferenceSetAttribute");
  bind(api.algo_get_heuristic, "cublasLtMatmulAlgoGetHeuristic");
  bind(api.matmul, "cublasLtMatmul");
  if (!missing.empty()) return failed_precondition(name + " lacks " + missing);
  return api;  // the handle stays open for the life of the process
}

}  // namespace

StatusOr<const CublasLtApi*> cublaslt_api() {
  static const StatusOr<CublasLtApi> api = load();
  if (!api.ok()) return api.status();
  return &*api;
}

}  // namespace pagoda::cuda
