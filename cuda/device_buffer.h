// DeviceBuffer: an owned cudaMalloc allocation on the current device, freed on
// destruction. Move-only. Used by the thread that owns the device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "base/status.h"

namespace pagoda::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Errors name `what` and the size asked for.
  [[nodiscard]] static StatusOr<DeviceBuffer> allocate(std::size_t bytes, const std::string& what);

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t bytes() const { return bytes_; }
  void reset();

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace pagoda::cuda
