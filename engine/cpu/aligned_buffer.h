// Cache-line-aligned storage for the CPU kernels' operands. The kernels read
// rows with 64-byte vector loads; a row that does not start on a cache line
// makes every load straddle two (measured: 25-45 % slower GEMMs at the 0.6B
// shapes, docs/performance.md). Plain allocation helpers; no thread affinity.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace pagoda::cpu {

inline constexpr std::size_t kCacheLineBytes = 64;

// std::allocator with cache-line alignment.
template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <typename U>
  constexpr CacheAlignedAllocator(const CacheAlignedAllocator<U>&) noexcept {}  // NOLINT: rebinding
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kCacheLineBytes}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{kCacheLineBytes}); }
  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const noexcept {
    return true;
  }
};

template <typename T>
using AlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

// An uninitialised cache-aligned array (pages are touched, and so resident,
// only when written).
struct CacheAlignedDelete {
  void operator()(void* p) const noexcept { ::operator delete[](p, std::align_val_t{kCacheLineBytes}); }
};
template <typename T>
using AlignedArray = std::unique_ptr<T[], CacheAlignedDelete>;

template <typename T>
AlignedArray<T> make_aligned_array(std::size_t n) {
  // CacheAlignedDelete frees the storage without running destructors.
  static_assert(std::is_trivially_destructible_v<T>);
  return AlignedArray<T>(new (std::align_val_t{kCacheLineBytes}) T[n]);
}

}  // namespace pagoda::cpu
