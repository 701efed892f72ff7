// BumpLayout: consecutive regions of one device allocation, each starting
// 256-byte aligned. With a null base it only counts, so one function both
// sizes an allocation and places its parts. Plain value; one thread.
#pragma once

#include <cstdint>

namespace pagoda::cuda {

class BumpLayout {
 public:
  static constexpr std::int64_t kAlign = 256;  // bytes
  static std::int64_t aligned(std::int64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

  explicit BumpLayout(std::uint8_t* base) : base_(base) {}
  // The next `count` elements of T (null when only counting).
  template <typename T>
  T* take(std::int64_t count) {
    T* p = base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + used_);
    used_ += aligned(count * static_cast<std::int64_t>(sizeof(T)));
    return p;
  }
  std::int64_t used() const { return used_; }

 private:
  std::uint8_t* base_;
  std::int64_t used_ = 0;
};

}  // namespace pagoda::cuda
