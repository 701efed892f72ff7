// Batch-invariant bf16 matrix products for the CPU backend: y = x · wᵀ with
// x [m, k] in bf16, w [n, k] a bf16 weight packed at load (PackedMatrix) and
// y [m, n] in f32. Every y[i][j] is one f32 accumulator fed pair by pair over
// k in ascending order — a fixed order that does not depend on m, on i, on the
// tile an element sits in or on the thread count, so a request's results are
// the same whatever else shares the step. Called by the thread that owns `pool`.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "engine/cpu/cpu_isa.h"
#include "engine/cpu/packed_matrix.h"
#include "engine/cpu/thread_pool.h"

namespace pagoda::cpu {

// A consumer of a product's outputs in place of y: the panels of w are taken
// in groups of group_panels (a group = 64 * group_panels output columns), and
// each group's outputs for a run of rows are computed into per-thread scratch
// and handed to `take` at once — used while they are in cache rather than
// written to memory and read back (on this kind of machine an element-wise
// pass over a prefill's f32 activations costs more in memory traffic than in
// arithmetic). The outputs are exactly y's. `take` runs on the pool's threads,
// concurrently for different groups, and must write only to places
// determined by its arguments.
struct GemmEpilogue {
  std::int64_t group_panels = 1;
  // block [rows][ld] f32, ld = 64 * group_panels: rows [row0, row0 + rows) of
  // y, its columns [64 * group_panels * group, +ld); columns past w.n hold
  // garbage. `take` may overwrite the block (scratch, rewritten next time).
  std::function<void(float* block, std::int64_t ld, std::int64_t row0, std::int64_t rows, std::int64_t group)>
      take;
};

struct GemmParams {
  const std::uint16_t* x = nullptr;  // [m, k] bf16, row stride ldx elements
  std::int64_t ldx = 0;
  PackedMatrix w;      // [n, k]: n = w.n, k = w.k
  float* y = nullptr;  // [m, n] f32, row stride ldy elements (unused with an epilogue)
  std::int64_t ldy = 0;
  std::int64_t m = 0;
  const GemmEpilogue* epilogue = nullptr;  // if set, receives the outputs instead of y
};

// Runs on `pool` with the path `isa` (normally detected_isa()).
void gemm_bf16(const GemmParams& p, ThreadPool& pool, CpuIsa isa);

// Several independent products (e.g. the q, k and v projections of one input)
// in one parallel loop: one wake-up of the pool instead of one per product,
// and no thread idles at the end of the smaller ones. Results are exactly
// those of gemm_bf16 on each part.
void gemm_bf16_many(std::span<const GemmParams> parts, ThreadPool& pool, CpuIsa isa);

// One path over the packed panels [panel_begin, panel_end) of w (output
// columns 64 * panel_begin up to 64 * panel_end or n) into y (p.epilogue is
// ignored), single-threaded; the building blocks of gemm_bf16 (exposed for
// tests).
void gemm_bf16_scalar(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end);
void gemm_bf16_avx2(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end);
void gemm_bf16_avx512(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end);

}  // namespace pagoda::cpu
