// Device helpers shared by Pagoda's kernels: bf16 <-> f32 on raw uint16 bits
// (kernel parameter structs carry bf16 as std::uint16_t so host code needs no
// CUDA headers) and warp / block reductions. Device code only.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace pagoda::cuda {

constexpr int kWarpSize = 32;

__device__ __forceinline__ float bf16_bits_to_f32(std::uint16_t b) {
  return __uint_as_float(static_cast<unsigned>(b) << 16);
}

// Round to nearest even, as the host's f32_to_bf16.
__device__ __forceinline__ std::uint16_t f32_to_bf16_bits(float f) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

// SwiGLU of one gate/up pair, rounded to bf16 for the down projection:
// silu(g) * u. The one definition silu_mul and the skinny GEMM's epilogue share.
__device__ __forceinline__ std::uint16_t silu_mul_bf16(float g, float u) {
  return f32_to_bf16_bits(g / (1.0f + expf(-g)) * u);
}

// Eight bf16 packed in a 16-byte word (lowest element in the lowest bits), as f32.
__device__ __forceinline__ void bf16x8_to_f32(const uint4& v, float (&out)[8]) {
  const unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = __uint_as_float(words[i] << 16);
    out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
  }
}

// The launch's dynamic shared memory (its size is the launch's), 16-byte aligned.
template <typename T>
__device__ __forceinline__ T* dynamic_shared_memory() {
#if defined(PAGODA_SIMT)
  return reinterpret_cast<T*>(simt::dynamic_shared());
#else
  extern __shared__ __align__(16) unsigned char pagoda_dynamic_smem[];
  return reinterpret_cast<T*>(pagoda_dynamic_smem);
#endif
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over the block; every thread gets the result. `scratch` holds one float
// per warp; blockDim.x is a multiple of 32. Contains __syncthreads().
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int num_warps = static_cast<int>(blockDim.x) / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < num_warps; ++w)
    total += scratch[w];
  return total;
}

}  // namespace pagoda::cuda
