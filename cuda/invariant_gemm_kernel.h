// y = x · wᵀ on tensor cores with one reduction order per output element,
// whatever m is and whatever tile computes it: the GEMM of the batch-invariant
// mode (CudaKernelChoices::batch_invariant). x [m, k] bf16, w [n, k] bf16, y
// [m, n] f32. Element (r, j) is one f32 accumulator that mma.m16n8k16 feeds
// with x[r] · w[j] over k in ascending steps of 16 (zero products past k), no
// split over k; so a row's results depend on its own x row only, never on the
// other rows of the batch or on block_rows. cuBLASLt chooses its kernel (and
// its split over k) per m, so its rows change with the batch size.
// Stream-ordered; no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct InvariantGemmParams {
  const std::uint16_t* x = nullptr;  // [m, k] bf16, row stride ldx
  const std::uint16_t* w = nullptr;  // [n, k] bf16, row stride ldw
  float* y = nullptr;                // [m, n] f32, row stride ldy; only these elements written
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t ldx = 0, ldw = 0, ldy = 0;
  // Rows of x per CTA: 16, 64 or 128. Speed only (the bits never depend on
  // it): invariant_gemm_block_rows says which suits m.
  int block_rows = 16;
};

// The CTA tile for m rows: 16 for decode batches (more CTAs across n), 64 and
// 128 as m grows (each weight tile read by fewer CTAs).
constexpr int invariant_gemm_block_rows(std::int64_t m) {
  return m <= 16 ? 16 : m <= 256 ? 64 : 128;
}

// True when the kernel takes these arguments: m, n, k >= 1; k, ldx and ldw
// multiples of 8; ldx >= k, ldw >= k, ldy >= n; x and w 16-byte aligned;
// block_rows 16, 64 or 128; at most 2^31 - 1 CTAs across n.
bool invariant_gemm_supports(const InvariantGemmParams& p);

// cudaErrorInvalidValue when !invariant_gemm_supports(p).
cudaError_t launch_invariant_gemm(const InvariantGemmParams& p, cudaStream_t stream,
                                  LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
