#include "engine/cpu/gemm.h"

#include <algorithm>

#include "base/bf16.h"

namespace pagoda::cpu {

void gemm_bf16_scalar(const GemmParams& p, std::int64_t n_begin, std::int64_t n_end) {
  for (std::int64_t i = 0; i < p.m; ++i) {
    const std::uint16_t* x = p.x + i * p.ldx;
    for (std::int64_t j = n_begin; j < n_end; ++j) {
      const std::uint16_t* w = p.w + j * p.ldw;
      float acc = 0.0f;
      for (std::int64_t kk = 0; kk < p.k; ++kk)
        acc += bf16_to_f32(x[kk]) * bf16_to_f32(w[kk]);
      p.y[i * p.ldy + j] = acc;
    }
  }
}

void gemm_bf16(const GemmParams& p, ThreadPool& pool, CpuIsa isa) {
  if (p.m == 0 || p.n == 0) return;
  // Columns are split into tasks of whole 16-column panels; each output column
  // is computed entirely inside one task, so the split never changes results.
  constexpr std::int64_t kPanel = 16;
  const std::int64_t num_panels = (p.n + kPanel - 1) / kPanel;
  // Enough tasks to balance threads; small enough to amortise the loop.
  const std::int64_t panels_per_task =
      std::max<std::int64_t>(1, num_panels / (static_cast<std::int64_t>(pool.num_threads()) * 8));
  const std::int64_t num_tasks = (num_panels + panels_per_task - 1) / panels_per_task;
  pool.parallel_for(num_tasks, [&](std::int64_t t) {
    std::int64_t begin = t * panels_per_task * kPanel;
    std::int64_t end = std::min(p.n, begin + panels_per_task * kPanel);
    switch (isa) {
      case CpuIsa::kAvx512Bf16:
        gemm_bf16_avx512(p, begin, end);
        break;
      case CpuIsa::kAvx2:
        gemm_bf16_avx2(p, begin, end);
        break;
      case CpuIsa::kScalar:
        gemm_bf16_scalar(p, begin, end);
        break;
    }
  });
}

}  // namespace pagoda::cpu
