#include <algorithm>
#include <cstdint>

#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"
#include "cuda/skinny_gemm_kernel.h"

namespace pagoda::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarpSize;
constexpr int kUnroll = 4;  // 16-byte weight loads in flight per lane

// acc[r][j] = x[r] · w[row0 + j] for kWeightRows weight rows (rows past n
// count as zeros), summed over the warp (every lane gets the sums): lane l
// takes the 16-byte chunks l, l + 32, ... of each weight row and of each x
// row, kUnroll chunks of each weight row in flight. Each x chunk a lane loads
// serves kWeightRows weight chunks.
template <int kRows, int kWeightRows, int kUnroll, bool kSharedX>
__device__ __forceinline__ void dot_rows(const SkinnyGemmParams& p, const std::uint16_t* xs,
                                         std::int64_t row0, int lane, float (&acc)[kRows][kWeightRows]) {
  const std::int64_t chunks = p.k / 8;
  const uint4* w = reinterpret_cast<const uint4*>(p.w + row0 * p.ldw);  // row j at w + j * row_chunks
  const std::int64_t row_chunks = p.ldw / 8;
  // One weight row is always in range (the callers' loops check it).
  const auto row_in_range = [&](int j) { return kWeightRows == 1 || row0 + j < p.n; };
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int j = 0; j < kWeightRows; ++j)
      acc[r][j] = 0.0f;
  }
  for (std::int64_t c0 = lane; c0 < chunks; c0 += kWarpSize * kUnroll) {
    uint4 wv[kUnroll][kWeightRows];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t c = c0 + u * kWarpSize;
#pragma unroll
      for (int j = 0; j < kWeightRows; ++j)
        wv[u][j] = c < chunks && row_in_range(j) ? __ldg(w + j * row_chunks + c) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t c = c0 + u * kWarpSize;
      if (c >= chunks) break;
      float wf[kWeightRows][8];
#pragma unroll
      for (int j = 0; j < kWeightRows; ++j)
        bf16x8_to_f32(wv[u][j], wf[j]);
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        float xf[8];
        if constexpr (kSharedX) {
          bf16x8_to_f32(reinterpret_cast<const uint4*>(xs + r * p.k)[c], xf);
        } else {
          bf16x8_to_f32(__ldg(reinterpret_cast<const uint4*>(p.x + r * p.ldx) + c), xf);
        }
#pragma unroll
        for (int j = 0; j < kWeightRows; ++j) {
#pragma unroll
          for (int e = 0; e < 8; ++e)
            acc[r][j] += wf[j][e] * xf[e];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int j = 0; j < kWeightRows; ++j)
      acc[r][j] = warp_sum(acc[r][j]);
  }
}

// acc[r] = x[r] · w[row] for one weight row, kUnroll (4) chunks in flight.
template <int kRows, bool kSharedX>
__device__ __forceinline__ void dot_row(const SkinnyGemmParams& p, const std::uint16_t* xs, std::int64_t row,
                                        int lane, float (&acc)[kRows]) {
  float acc2[kRows][1];
  dot_rows<kRows, 1, kUnroll, kSharedX>(p, xs, row, lane, acc2);
#pragma unroll
  for (int r = 0; r < kRows; ++r)
    acc[r] = acc2[r][0];
}

// Weights are never written during a step: while the previous kernel
// finishes (programmatic launch), have L2 fetch a warp's first row.
__device__ __forceinline__ void prefetch_row(const SkinnyGemmParams& p, std::int64_t row, int lane) {
  const uint4* w = reinterpret_cast<const uint4*>(p.w + row * p.ldw);
  for (std::int64_t c = lane; c < p.k / 8; c += kWarpSize)
    prefetch_l2(w + c);
}

// The RMSNorm prologue: x rows into shared memory [m][k], each value as
// add_rms_norm computes it (thread t sums elements t, t + kThreads, ... in
// that order; block_sum; x * inv * weight), so the bits are the same.
template <int kRows>
__device__ __forceinline__ void norm_rows(const SkinnyGemmParams& p, std::uint16_t* xs) {
  __shared__ float scratch[kWarps];
  const auto tid = static_cast<std::int64_t>(threadIdx.x);
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const float* res = p.residual + r * p.ldx;
    float sq = 0.0f;
    for (std::int64_t j = tid; j < p.k; j += kThreads) {
      const float x = res[j];
      sq += x * x;
    }
    const float total = block_sum(sq, scratch);
    const float inv = rsqrtf(total / static_cast<float>(p.k) + p.norm_eps);
    for (std::int64_t j = tid; j < p.k; j += kThreads)
      xs[r * p.k + j] = f32_to_bf16_bits(res[j] * inv * bf16_bits_to_f32(p.norm_weight[j]));
  }
  __syncthreads();
}

// One warp per output (grid-stride): y[r][row], or with kSwiGlu the pair of
// gate row i and up row i + n/2 into act[r][i]; with kNorm, x made by
// norm_rows.
template <int kRows, bool kSwiGlu, bool kNorm>
__global__ void __launch_bounds__(kThreads) skinny_gemm_kernel(SkinnyGemmParams p) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::int64_t warp = static_cast<std::int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  const std::int64_t num_warps = static_cast<std::int64_t>(gridDim.x) * kWarps;
  const std::int64_t outputs = kSwiGlu ? p.n / 2 : p.n;
  if (warp < outputs) {
    prefetch_row(p, warp, lane);
    if (kSwiGlu) prefetch_row(p, warp + outputs, lane);
  }
  await_previous_grid();
  std::uint16_t* xs = nullptr;
  if constexpr (kNorm) {
    xs = dynamic_shared_memory<std::uint16_t>();
    norm_rows<kRows>(p, xs);
  }
  for (std::int64_t row = warp; row < outputs; row += num_warps) {
    float acc[kRows];
    dot_row<kRows, kNorm>(p, xs, row, lane, acc);
    if constexpr (kSwiGlu) {
      float up[kRows];
      dot_row<kRows, kNorm>(p, xs, row + outputs, lane, up);
      if (lane == 0) {
#pragma unroll
        for (int r = 0; r < kRows; ++r)
          p.act[r * p.ldact + row] = silu_mul_bf16(acc[r], up[r]);
      }
    } else if (lane == 0) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        float* y = p.y + r * p.ldy + row;
        *y = p.accumulate ? *y + acc[r] : acc[r];
      }
    }
  }
}

// More than kSkinnyGemmMaxFusedRows rows (plain y = x · wᵀ only): each warp
// takes kWarpWeightRows weight rows at once, so that each x chunk a lane loads
// serves that many weight chunks. With one weight row per warp, 8 rows of x
// meant eight 16-byte x loads per 16-byte weight load, which L1 could not
// keep up with (cuBLASLt was faster from m = 8, docs/performance.md).
constexpr int kWarpWeightRows = 4;
// 16-byte chunks in flight per weight row and lane: two, but one at 8 rows,
// which would otherwise spill under two blocks' 128 registers.
template <int kRows>
constexpr int kTiledUnroll = kRows >= 8 ? 1 : 2;

template <int kRows>
__global__ void __launch_bounds__(kThreads, 2) skinny_gemm_tiled_kernel(SkinnyGemmParams p) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::int64_t warp = static_cast<std::int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  const std::int64_t num_warps = static_cast<std::int64_t>(gridDim.x) * kWarps;
  const std::int64_t groups = (p.n + kWarpWeightRows - 1) / kWarpWeightRows;
  if (warp < groups) {
    for (int j = 0; j < kWarpWeightRows; ++j) {
      if (warp * kWarpWeightRows + j < p.n) prefetch_row(p, warp * kWarpWeightRows + j, lane);
    }
  }
  await_previous_grid();
  for (std::int64_t g = warp; g < groups; g += num_warps) {
    const std::int64_t row0 = g * kWarpWeightRows;
    float acc[kRows][kWarpWeightRows];  // x row r · weight row row0 + j
    dot_rows<kRows, kWarpWeightRows, kTiledUnroll<kRows>, false>(p, nullptr, row0, lane, acc);
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
#pragma unroll
        for (int j = 0; j < kWarpWeightRows; ++j) {
          if (row0 + j >= p.n) continue;
          float* y = p.y + r * p.ldy + row0 + j;
          *y = p.accumulate ? *y + acc[r][j] : acc[r][j];
        }
      }
    }
  }
}

template <int kRows>
cudaError_t launch_rows(const SkinnyGemmParams& p, cudaStream_t stream, LaunchOrder order) {
  int sms = p.num_sms;
  if (sms <= 0) {
    int device = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  }
  const std::int64_t outputs = p.act != nullptr ? p.n / 2 : p.n;
  const std::int64_t blocks_needed = (outputs + kWarps - 1) / kWarps;
  const auto blocks = static_cast<unsigned>(blocks_needed < 8LL * sms ? blocks_needed : 8LL * sms);
  const bool swiglu = p.act != nullptr, norm = p.norm_weight != nullptr;
  if constexpr (kRows <= kSkinnyGemmMaxFusedRows) {  // fewer instantiations: smaller binaries
    const auto smem = static_cast<std::size_t>(norm ? skinny_gemm_norm_bytes(kRows, p.k) : 0);
    if (swiglu && norm)
      return launch_kernel(skinny_gemm_kernel<kRows, true, true>, blocks, kThreads, smem, stream, order, p);
    if (swiglu)
      return launch_kernel(skinny_gemm_kernel<kRows, true, false>, blocks, kThreads, 0, stream, order, p);
    if (norm)
      return launch_kernel(skinny_gemm_kernel<kRows, false, true>, blocks, kThreads, smem, stream, order, p);
  } else {
    if (swiglu || norm) return cudaErrorInvalidValue;  // skinny_gemm_supports refused it
    const std::int64_t groups = (p.n + kWarpWeightRows - 1) / kWarpWeightRows;
    const std::int64_t tiled_blocks = std::min<std::int64_t>((groups + kWarps - 1) / kWarps, 8LL * sms);
    return launch_kernel(skinny_gemm_tiled_kernel<kRows>, static_cast<unsigned>(tiled_blocks), kThreads, 0,
                         stream, order, p);
  }
  return launch_kernel(skinny_gemm_kernel<kRows, false, false>, blocks, kThreads, 0, stream, order, p);
}

}  // namespace

bool skinny_gemm_supports(const SkinnyGemmParams& p) {
  return p.m >= 1 && p.m <= kSkinnyGemmMaxRows && p.k > 0 && p.k % 8 == 0 && p.ldx % 8 == 0 &&
         p.ldw % 8 == 0 && reinterpret_cast<std::uintptr_t>(p.x) % 16 == 0 &&
         reinterpret_cast<std::uintptr_t>(p.w) % 16 == 0 &&
         ((p.act == nullptr && p.norm_weight == nullptr) || p.m <= kSkinnyGemmMaxFusedRows) &&
         (p.act == nullptr || (p.n % 2 == 0 && p.ldact >= p.n / 2)) &&
         (p.norm_weight == nullptr ||
          (p.residual != nullptr && skinny_gemm_norm_bytes(p.m, p.k) <= kSkinnyGemmMaxNormBytes));
}

cudaError_t launch_skinny_gemm(const SkinnyGemmParams& p, cudaStream_t stream, LaunchOrder order) {
  if (!skinny_gemm_supports(p)) return cudaErrorInvalidValue;
  if (p.n == 0) return cudaSuccess;
  switch (p.m) {
    case 1:
      return launch_rows<1>(p, stream, order);
    case 2:
      return launch_rows<2>(p, stream, order);
    case 3:
      return launch_rows<3>(p, stream, order);
    case 4:
      return launch_rows<4>(p, stream, order);
    case 5:
      return launch_rows<5>(p, stream, order);
    case 6:
      return launch_rows<6>(p, stream, order);
    case 7:
      return launch_rows<7>(p, stream, order);
    default:
      return launch_rows<8>(p, stream, order);
  }
}

}  // namespace pagoda::cuda
