// CUDA runtime return codes as pagoda Status values, with the failing call
// named. Host code only.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "base/status.h"

namespace pagoda::cuda {

inline Status cuda_status(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return ok_status();
  if (err == cudaErrorMemoryAllocation) return resource_exhausted(what + ": out of device memory");
  return internal_error(what + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

}  // namespace pagoda::cuda

#define PAGODA_CUDA_RETURN_IF_ERROR(expr) PAGODA_RETURN_IF_ERROR(::pagoda::cuda::cuda_status((expr), #expr))
