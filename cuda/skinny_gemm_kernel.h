// y = x · wᵀ for a handful of rows (decode batches): x [m, k] bf16, w [n, k]
// bf16, y [m, n] f32, f32 accumulation. Memory-bound: every weight is read
// once with 16-byte loads, each warp streaming whole weight rows (four at a
// time past kSkinnyGemmMaxFusedRows rows, so that each x chunk serves four), so
// a step's projections run near the copy bandwidth where cuBLASLt's small-m
// kernels reach 7-25% of it (docs/performance.md). Stream-ordered; no host
// sync.
//
// Fused forms, each equal bit for bit to the kernels it replaces: an RMSNorm
// prologue (x made from an f32 residual as add_rms_norm makes it), a residual
// epilogue (y += x · wᵀ, the add add_rms_norm would do next) and a SwiGLU
// epilogue (what silu_mul would make of y).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

constexpr int kSkinnyGemmMaxRows = 8;
constexpr int kSkinnyGemmMaxFusedRows = 4;  // the fused forms (below) take up to this many rows

struct SkinnyGemmParams {
  const std::uint16_t* x = nullptr;  // [m, k] bf16, row stride ldx
  const std::uint16_t* w = nullptr;  // [n, k] bf16, row stride ldw
  float* y = nullptr;                // [m, n] f32, row stride ldy
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t ldx = 0, ldw = 0, ldy = 0;
  int num_sms = 0;  // the device's multiprocessors, which size the grid (0: asked at each launch)
  // SwiGLU epilogue, when set: w holds gate rows [0, n/2) then up rows
  // [n/2, n), and act[r][i] = bf16(silu(gate_i) * up_i) for i < n/2 — bit for
  // bit what launch_silu_mul would make of y — while y is not written.
  std::uint16_t* act = nullptr;  // [m, n / 2] bf16, row stride ldact
  std::int64_t ldact = 0;
  // Residual epilogue, when set: y[r][j] += (x · wᵀ)[r][j] instead of =.
  bool accumulate = false;
  // RMSNorm prologue, when norm_weight is set: x is not read; each block
  // makes x[r] = bf16(residual[r] / sqrt(mean(residual[r]^2) + eps) *
  // norm_weight) in shared memory, as add_rms_norm (no add) would.
  const float* residual = nullptr;             // [m, k] f32, row stride ldx
  const std::uint16_t* norm_weight = nullptr;  // [k] bf16
  float norm_eps = 1e-6f;
};

// Shared memory a block needs for the RMSNorm prologue of m rows of k.
constexpr std::int64_t skinny_gemm_norm_bytes(std::int64_t m, std::int64_t k) {
  return m * k * 2;
}
// A block gets 48 KB of shared memory without opting in, static and dynamic
// together: the norm rows plus the kernel's own scratch (under 1 KB).
constexpr std::int64_t kSkinnyGemmMaxNormBytes = 47 * 1024;

// True when the kernel takes these arguments: 1 <= m <= kSkinnyGemmMaxRows,
// k, ldx and ldw multiples of 8 and x, w 16-byte aligned; with act or the
// norm prologue, m <= kSkinnyGemmMaxFusedRows; with act, n even and ldact >=
// n / 2; with the norm prologue, the rows within kSkinnyGemmMaxNormBytes of
// shared memory.
bool skinny_gemm_supports(const SkinnyGemmParams& p);

// cudaErrorInvalidValue when !skinny_gemm_supports(p).
cudaError_t launch_skinny_gemm(const SkinnyGemmParams& p, cudaStream_t stream,
                               LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
