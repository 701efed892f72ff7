// Batch-invariant bf16 matrix products for the CPU backend: y = x · wᵀ with
// x [m, k] and w [n, k] in bf16 (w is a checkpoint weight, read in place) and
// y [m, n] in f32. Every y[i][j] is reduced over k in one fixed order that does
// not depend on m, on i, or on the thread count — so a request's results are
// the same whatever else shares the step. Called by the thread that owns `pool`.
#pragma once

#include <cstdint>
#include <span>

#include "engine/cpu/cpu_isa.h"
#include "engine/cpu/thread_pool.h"

namespace pagoda::cpu {

struct GemmParams {
  const std::uint16_t* x = nullptr;  // [m, k] bf16, row stride ldx elements
  std::int64_t ldx = 0;
  const std::uint16_t* w = nullptr;  // [n, k] bf16, row stride ldw elements
  std::int64_t ldw = 0;
  float* y = nullptr;  // [m, n] f32, row stride ldy elements
  std::int64_t ldy = 0;
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
};

// Runs on `pool` with the path `isa` (normally detected_isa()).
void gemm_bf16(const GemmParams& p, ThreadPool& pool, CpuIsa isa);

// Several independent products (e.g. the q, k and v projections of one input)
// in one parallel loop: one wake-up of the pool instead of one per product,
// and no thread idles at the end of the smaller ones. Results are exactly
// those of gemm_bf16 on each part.
void gemm_bf16_many(std::span<const GemmParams> parts, ThreadPool& pool, CpuIsa isa);

// One path over output columns [n_begin, n_end), single-threaded; the
// building blocks of gemm_bf16 (exposed for tests).
void gemm_bf16_scalar(const GemmParams& p, std::int64_t n_begin, std::int64_t n_end);
void gemm_bf16_avx2(const GemmParams& p, std::int64_t n_begin, std::int64_t n_end);
void gemm_bf16_avx512(const GemmParams& p, std::int64_t n_begin, std::int64_t n_end);

}  // namespace pagoda::cpu
