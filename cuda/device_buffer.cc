#include "cuda/device_buffer.h"

#include <cuda_runtime.h>

#include "cuda/cuda_status.h"

namespace pagoda::cuda {

StatusOr<DeviceBuffer> DeviceBuffer::allocate(std::size_t bytes, const std::string& what) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  cudaError_t err = cudaMalloc(&b.ptr_, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();
    b.ptr_ = nullptr;
    return cuda_status(err, "allocating " + std::to_string(bytes) + " bytes for " + what);
  }
  b.bytes_ = bytes;
  return b;
}

void DeviceBuffer::reset() {
  if (ptr_ != nullptr) cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

}  // namespace pagoda::cuda
