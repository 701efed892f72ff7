// The batch-invariant GEMM (invariant_gemm_kernel.h) with mma.sync (sm_80+).
//
// One CTA = a tile of kBlockRows rows of x by kBlockCols rows of w; its warps
// split the tile (kWarpsM x kWarpsN), each owning kTilesM x kTilesN
// m16n8 accumulator tiles. x and w stream through shared memory in k-tiles of
// kKTile (a kStages-deep cp.async pipeline; rows past m or n and columns past
// k are zero-filled, never read), and each k-tile is kKTile / 16 mma k-steps,
// in ascending k. Every configuration runs the same per-element sequence — one
// accumulator, k-steps of 16 in order, then only k-steps of zeros, which add
// exact zeros — which is the invariant; the tile shapes only decide which CTA
// and warp hold an element, and how many bytes are in flight. Fragment
// layouts: cuda/warp_mma.cuh.
#include <cstdint>

#include "cuda/device_math.cuh"
#include "cuda/invariant_gemm_kernel.h"
#include "cuda/kernel_launch.cuh"
#include "cuda/warp_mma.cuh"

namespace pagoda::cuda {
namespace {

// A CTA of kWarpsM x kWarpsN warps, each owning kTilesM x kTilesN m16n8
// tiles. kKTile: k per pipeline stage, a multiple of 16 (mma k-steps).
// kStages: pipeline depth; kStages - 1 k-tiles are in flight while one is
// multiplied.
template <int WarpsM, int WarpsN, int TilesM, int TilesN, int KTile, int Stages>
struct Config {
  static constexpr int kWarpsM = WarpsM, kWarpsN = WarpsN, kTilesM = TilesM, kTilesN = TilesN;
  static constexpr int kKTile = KTile, kStages = Stages;
  static_assert(kTilesN % 2 == 0, "B fragments are loaded for pairs of n-tiles");
  static_assert(kKTile % 16 == 0 && kStages >= 2, "whole k-steps per stage, a pipeline");
  // bf16 per shared row, padded by 16 bytes: an ldmatrix phase's 8 rows fall
  // into 8 different 16-byte bank groups.
  static constexpr int kStride = kKTile + 8;
  static constexpr int kChunksPerRow = kKTile / 8;  // 16-byte chunks per row of a stage
  static constexpr int kThreads = kWarpsM * kWarpsN * kWarpSize;
  static constexpr int kBlockRows = kWarpsM * kTilesM * 16;
  static constexpr int kBlockCols = kWarpsN * kTilesN * 8;
  static constexpr int kStageElems = (kBlockRows + kBlockCols) * kStride;  // x rows, then w rows
  static constexpr int kSmemBytes = kStages * kStageElems * 2;
};

// grid: (ceil(n / kBlockCols), ceil(m / kBlockRows)); block: C::kThreads;
// dynamic shared memory C::kSmemBytes.
template <class C>
__global__ void __launch_bounds__(C::kThreads) invariant_gemm_kernel(InvariantGemmParams p) {
  await_previous_grid();
  constexpr int kKTile = C::kKTile, kStages = C::kStages, kStride = C::kStride;
  constexpr int kChunksPerRow = C::kChunksPerRow;
  constexpr int kWarpsN = C::kWarpsN, kTilesM = C::kTilesM, kTilesN = C::kTilesN;
  std::uint16_t* smem = dynamic_shared_memory<std::uint16_t>();  // [kStages][rows + cols][kStride]
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int warp_m = warp / kWarpsN;
  const int warp_n = warp % kWarpsN;
  const std::int64_t row0 = static_cast<std::int64_t>(blockIdx.y) * C::kBlockRows;
  const std::int64_t col0 = static_cast<std::int64_t>(blockIdx.x) * C::kBlockCols;
  const std::int64_t num_k_tiles = (p.k + kKTile - 1) / kKTile;

  // Stage one k-tile: kChunksPerRow 16-byte chunks of each x row, then of each
  // w row; consecutive threads take consecutive chunks of a row.
  auto load = [&](std::int64_t k_tile, int stage) {
    std::uint16_t* s = smem + stage * C::kStageElems;
    const std::int64_t k0 = k_tile * kKTile;
    for (int i = tid; i < (C::kBlockRows + C::kBlockCols) * kChunksPerRow; i += C::kThreads) {
      const int r = i / kChunksPerRow;
      const int c = (i % kChunksPerRow) * 8;
      const bool is_x = r < C::kBlockRows;
      const std::int64_t row = is_x ? row0 + r : col0 + (r - C::kBlockRows);
      const bool valid = row < (is_x ? p.m : p.n) && k0 + c < p.k;
      const std::uint16_t* src = is_x ? p.x + row * p.ldx : p.w + row * p.ldw;
      cp_async_16(s + r * kStride + c, valid ? src + k0 + c : p.w, valid);
    }
  };

  float acc[kTilesM][kTilesN][4];
#pragma unroll
  for (int i = 0; i < kTilesM; ++i) {
#pragma unroll
    for (int j = 0; j < kTilesN; ++j) {
#pragma unroll
      for (int c = 0; c < 4; ++c)
        acc[i][j][c] = 0.0f;
    }
  }

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_k_tiles) load(s, s);
    cp_async_commit();
  }
  for (std::int64_t kt = 0; kt < num_k_tiles; ++kt) {
    // Tile kt's group has landed for every thread after the wait and barrier;
    // the stage refilled next was read in iteration kt - 1, before the barrier.
    cp_async_wait<kStages - 2>();
    __syncthreads();
    if (kt + kStages - 1 < num_k_tiles)
      load(kt + kStages - 1, static_cast<int>((kt + kStages - 1) % kStages));
    cp_async_commit();

    const std::uint16_t* xs = smem + static_cast<int>(kt % kStages) * C::kStageElems;
    const std::uint16_t* ws = xs + C::kBlockRows * kStride;
#pragma unroll
    for (int kk = 0; kk < kKTile / 16; ++kk) {
      unsigned a[kTilesM][4];  // rows 0-7 / 8-15 x k 0-7 / 8-15 of this k-step
#pragma unroll
      for (int i = 0; i < kTilesM; ++i) {
        const int r = (warp_m * kTilesM + i) * 16 + (lane & 15);
        ldmatrix_x4(a[i], xs + r * kStride + kk * 16 + (lane >> 4) * 8);
      }
#pragma unroll
      for (int jj = 0; jj < kTilesN / 2; ++jj) {
        // Matrices: (cols 0-7, k 0-7), (cols 0-7, k 8-15), (cols 8-15, k 0-7),
        // (cols 8-15, k 8-15): b0, b1 of n-tile 2jj, then of 2jj + 1.
        unsigned b[4];
        const int r = (warp_n * kTilesN + 2 * jj) * 8 + (lane & 7) + (lane >> 4) * 8;
        ldmatrix_x4(b, ws + r * kStride + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
        for (int i = 0; i < kTilesM; ++i) {
          mma_bf16(acc[i][2 * jj], a[i], b[0], b[1]);
          mma_bf16(acc[i][2 * jj + 1], a[i], b[2], b[3]);
        }
      }
    }
  }
  cp_async_wait<0>();

  // C fragment: this lane holds rows g and g + 8, columns 2t and 2t + 1 of each tile.
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int i = 0; i < kTilesM; ++i) {
#pragma unroll
    for (int j = 0; j < kTilesN; ++j) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const std::int64_t row = row0 + (warp_m * kTilesM + i) * 16 + g + (c / 2) * 8;
        const std::int64_t col = col0 + (warp_n * kTilesN + j) * 8 + 2 * t + (c & 1);
        if (row < p.m && col < p.n) p.y[row * p.ldy + col] = acc[i][j][c];
      }
    }
  }
}

template <class C>
cudaError_t launch_config(const InvariantGemmParams& p, cudaStream_t stream, LaunchOrder order) {
  auto* kernel = invariant_gemm_kernel<C>;
  // Above 48 KB a kernel must opt in; per device, and cheap, so every launch does.
  if (C::kSmemBytes > 48 * 1024) {
    const cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes);
    if (err != cudaSuccess) return err;
  }
  const dim3 grid(static_cast<unsigned>((p.n + C::kBlockCols - 1) / C::kBlockCols),
                  static_cast<unsigned>((p.m + C::kBlockRows - 1) / C::kBlockRows));
  return launch_kernel(kernel, grid, dim3(C::kThreads), C::kSmemBytes, stream, order, p);
}

bool aligned_16(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0;
}

}  // namespace

bool invariant_gemm_supports(const InvariantGemmParams& p) {
  const bool shape = p.m >= 1 && p.n >= 1 && p.k >= 1 && p.k % 8 == 0 && p.ldx % 8 == 0 && p.ldw % 8 == 0 &&
                     p.ldx >= p.k && p.ldw >= p.k && p.ldy >= p.n;
  const bool tile = p.block_rows == 16 || p.block_rows == 64 || p.block_rows == 128;
  return shape && tile && p.x != nullptr && p.w != nullptr && p.y != nullptr && aligned_16(p.x) &&
         aligned_16(p.w) && (p.n + 15) / 16 <= 0x7fffffff && (p.m + p.block_rows - 1) / p.block_rows <= 65535;
}

cudaError_t launch_invariant_gemm(const InvariantGemmParams& p, cudaStream_t stream, LaunchOrder order) {
  if (!invariant_gemm_supports(p)) return cudaErrorInvalidValue;
  // Decode batches are bound by reading w once, which takes bytes in flight:
  // at 4.8 TB/s and ~1 us of latency, about 5 MB across the GPU. A w tile
  // cannot be split over k (the invariant), so the small tiles get many CTAs
  // (one per 16 or 32 columns) and deep pipelines instead: 14 KB (16) or 20 KB
  // (64) of w in flight per CTA.
  switch (p.block_rows) {
    case 16:  // 16 x 16: one warp; 64-wide k-tiles, 8 stages (36 KB)
      return launch_config<Config<1, 1, 1, 2, 64, 8>>(p, stream, order);
    case 64:  // 64 x 32: 2 x 2 warps, 32 x 16 each; 64-wide k-tiles, 6 stages (81 KB)
      return launch_config<Config<2, 2, 2, 2, 64, 6>>(p, stream, order);
    default:  // 128 x 128: 2 x 2 warps, 64 x 64 each; 32-wide k-tiles, 3 stages (60 KB)
      return launch_config<Config<2, 2, 4, 8, 32, 3>>(p, stream, order);
  }
}

}  // namespace pagoda::cuda
