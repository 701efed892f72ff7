// The CUDA device built-ins that Pagoda's kernels use, for compiling a kernel
// .cu file as host C++ on the SIMT emulator (simt.h). Included first by each
// emulated kernel translation unit (tests/cuda/simt/CMakeLists.txt), which is
// compiled with PAGODA_SIMT defined; the kernels' own few emulator branches
// (dynamic shared memory, PTX wrappers, launches) key on that macro.
//
// Numerics: __expf is the library's expf (the GPU's is an approximation), so
// results agree with a GPU's to rounding, not bit for bit.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tests/cuda/simt/simt.h"

// The CUDA headers, read by a host compiler, make __shared__ nothing: here a
// shared variable is one static per kernel (blocks run one at a time), which
// the link gathers into the range the emulator poisons before every block
// (simt_shared.ld).
#undef __shared__
#define __shared__ static

#undef __launch_bounds__
#define __launch_bounds__(...)

#define threadIdx (::pagoda::simt::g_thread_context->thread_idx)
#define blockIdx (::pagoda::simt::g_thread_context->block_idx)
#define blockDim (::pagoda::simt::g_thread_context->block_dim)
#define gridDim (::pagoda::simt::g_thread_context->grid_dim)

inline void __syncthreads() {
  ::pagoda::simt::sync_threads();
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  const ::pagoda::simt::LaneWords none = {};
  ::pagoda::simt::warp_exchange(mask, none, "__syncwarp");
}

namespace pagoda::simt {

// A shuffle: every lane posts v, each reads lane `src_of(lane)`'s.
template <typename T, typename SrcOf>
T shuffle(unsigned mask, T v, const char* op, SrcOf src_of) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(std::uint64_t));
  LaneWords words = {};
  std::memcpy(&words[0], &v, sizeof(T));
  const LaneWords* all = warp_exchange(mask, words, op);
  const int src = src_of(g_thread_context->lane);
  if (src < 0 || src >= kWarpSize || !(mask >> src & 1u)) fail("a shuffle reads a lane outside its mask");
  T out;
  std::memcpy(&out, &all[src][0], sizeof(T));
  return out;
}

}  // namespace pagoda::simt

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return ::pagoda::simt::shuffle(mask, v, "__shfl_xor_sync", [&](int lane) {
    const int src = lane ^ lane_mask;
    return src / width == lane / width ? src : lane;
  });
}

template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::pagoda::simt::shuffle(mask, v, "__shfl_up_sync", [&](int lane) {
    const int src = lane - static_cast<int>(delta);
    return src >= lane / width * width ? src : lane;
  });
}

template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::pagoda::simt::shuffle(mask, v, "__shfl_down_sync", [&](int lane) {
    const int src = lane + static_cast<int>(delta);
    return src < (lane / width + 1) * width ? src : lane;
  });
}

template <typename T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  return ::pagoda::simt::shuffle(mask, v, "__shfl_sync",
                                 [&](int lane) { return lane / width * width + src_lane % width; });
}

namespace pagoda::simt {

// Every lane of `mask` posts `v` to collective `op`; returns the lanes' posts
// (lanes outside the mask: stale).
inline const LaneWords* vote(unsigned mask, std::uint64_t v, const char* op) {
  LaneWords words = {};
  words[0] = v;
  return warp_exchange(mask, words, op);
}

}  // namespace pagoda::simt

namespace pagoda::simt {

// The lanes of `mask` whose predicate holds (vote.sync.* named `op`).
inline unsigned ballot(unsigned mask, int predicate, const char* op) {
  const LaneWords* all = vote(mask, predicate != 0 ? 1 : 0, op);
  unsigned bits = 0;
  for (int lane = 0; lane < kWarpSize; ++lane)
    if ((mask >> lane & 1u) && all[lane][0] != 0) bits |= 1u << lane;
  return bits;
}

}  // namespace pagoda::simt

inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return ::pagoda::simt::ballot(mask, predicate, "__ballot_sync");
}
inline int __any_sync(unsigned mask, int predicate) {
  return ::pagoda::simt::ballot(mask, predicate, "__any_sync") != 0;
}
inline int __all_sync(unsigned mask, int predicate) {
  return ::pagoda::simt::ballot(mask, predicate, "__all_sync") == mask;
}
// The lanes of `mask` whose value equals this lane's.
template <typename T>
unsigned __match_any_sync(unsigned mask, T value) {
  static_assert(std::is_integral_v<T> && sizeof(T) <= sizeof(std::uint64_t));
  const auto mine = static_cast<std::uint64_t>(value);
  const ::pagoda::simt::LaneWords* all = ::pagoda::simt::vote(mask, mine, "__match_any_sync");
  unsigned peers = 0;
  for (int lane = 0; lane < ::pagoda::simt::kWarpSize; ++lane)
    if ((mask >> lane & 1u) && all[lane][0] == mine) peers |= 1u << lane;
  return peers;
}
// The sum (mod 2^32) of `value` over the lanes of `mask` (redux.sync).
inline unsigned __reduce_add_sync(unsigned mask, unsigned value) {
  const ::pagoda::simt::LaneWords* all = ::pagoda::simt::vote(mask, value, "__reduce_add_sync");
  unsigned sum = 0;
  for (int lane = 0; lane < ::pagoda::simt::kWarpSize; ++lane)
    if (mask >> lane & 1u) sum += static_cast<unsigned>(all[lane][0]);
  return sum;
}
inline int __reduce_add_sync(unsigned mask, int value) {
  return static_cast<int>(__reduce_add_sync(mask, static_cast<unsigned>(value)));
}
inline int __popc(unsigned v) {
  return std::popcount(v);
}
// 1 + the index of the lowest set bit; 0 when none.
inline int __ffs(int v) {
  return v == 0 ? 0 : std::countr_zero(static_cast<unsigned>(v)) + 1;
}

// Fibers of one OS thread: an atomic is a plain read-modify-write.
template <typename T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}

template <typename T>
T atomicOr(T* address, T value) {
  const T old = *address;
  *address = old | value;
  return old;
}

template <typename T>
T __ldg(const T* p) {
  return *p;
}

inline float __expf(float x) {
  return std::exp(x);
}
// The rounded product, never fused into an FMA with what follows (the
// emulator's kernels are compiled contracting, as nvcc's are).
inline float __fmul_rn(float a, float b) {
  float r = a * b;
#if defined(__x86_64__)
  asm("" : "+x"(r));  // the compiler cannot see through it, so cannot fuse it
#endif
  return r;
}
// A sum of two values is never contracted (only a product feeding it is).
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline float __uint_as_float(unsigned u) {
  return std::bit_cast<float>(u);
}
inline unsigned __float_as_uint(float f) {
  return std::bit_cast<unsigned>(f);
}

#include "tests/cuda/simt/simt_ptx.h"
#include "tests/cuda/simt/simt_runtime.h"

// CUDA's integer and float min / max overloads, for the types the kernels use.
template <typename T>
T min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
T max(T a, T b) {
  return a < b ? b : a;
}

// cuda_runtime.h's typed forms, which a host compiler does not see.
template <typename T>
cudaError_t cudaFuncSetAttribute(T* entry, cudaFuncAttribute attr, int value) {
  return ::cudaFuncSetAttribute(reinterpret_cast<const void*>(entry), attr, value);
}
template <typename T>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, T* entry) {
  return ::cudaFuncGetAttributes(attributes, reinterpret_cast<const void*>(entry));
}
