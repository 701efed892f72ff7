// The error of the last kernel launch, cleared: every launch_* function ends
// with it so callers see configuration errors at the launch that caused them.
#pragma once

#include <cuda_runtime_api.h>

namespace pagoda::cuda {

inline cudaError_t last_launch_error() {
  return cudaGetLastError();
}

}  // namespace pagoda::cuda
