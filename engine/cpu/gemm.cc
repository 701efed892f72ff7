#include "engine/cpu/gemm.h"

#include <algorithm>
#include <vector>

#include "base/bf16.h"

namespace pagoda::cpu {

void gemm_bf16_scalar(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end) {
  const PackedMatrix& w = p.w;
  const std::int64_t n_end = std::min(w.n, panel_end * PackedMatrix::kPanelRows);
  for (std::int64_t i = 0; i < p.m; ++i) {
    const std::uint16_t* x = p.x + i * p.ldx;
    for (std::int64_t j = panel_begin * PackedMatrix::kPanelRows; j < n_end; ++j) {
      // Pair by pair, the even element's product first (products of two bf16
      // values are exact in f32, so this is also what fused multiply-adds give).
      float acc = 0.0f;
      for (std::int64_t kk = 0; kk < w.k; kk += 2) {
        acc += bf16_to_f32(x[kk]) * bf16_to_f32(w.at(j, kk));
        if (kk + 1 < w.k) acc += bf16_to_f32(x[kk + 1]) * bf16_to_f32(w.at(j, kk + 1));
      }
      p.y[i * p.ldy + j] = acc;
    }
  }
}

void gemm_bf16_many(std::span<const GemmParams> parts, ThreadPool& pool, CpuIsa isa) {
  // Columns are split into tasks of whole packed panels; each output column
  // is computed entirely inside one task, so the split never changes results.
  std::int64_t total_panels = 0;
  for (const GemmParams& p : parts) {
    if (p.m > 0) total_panels += p.w.num_panels();
  }
  if (total_panels == 0) return;
  // Enough tasks to balance threads; large enough to amortise the loop. A
  // product with one row of x only streams w, and finely split so that a
  // thread that reads faster takes over the other's last tasks (ThreadPool
  // gives each thread a contiguous share, so its reads stay one stream).
  std::int64_t max_m = 0;
  for (const GemmParams& p : parts)
    max_m = std::max(max_m, p.m);
  const std::int64_t tasks_per_thread = max_m == 1 ? 16 : 8;
  const std::int64_t panels_per_task = std::max<std::int64_t>(
      1, total_panels / (static_cast<std::int64_t>(pool.num_threads()) * tasks_per_thread));
  struct Task {
    const GemmParams* part;
    std::int64_t begin, end;  // panels
  };
  std::vector<Task> tasks;
  tasks.reserve(static_cast<std::size_t>(total_panels / panels_per_task + parts.size()));
  for (const GemmParams& p : parts) {
    if (p.m == 0) continue;
    for (std::int64_t begin = 0; begin < p.w.num_panels(); begin += panels_per_task)
      tasks.push_back({&p, begin, std::min(p.w.num_panels(), begin + panels_per_task)});
  }
  pool.parallel_for(static_cast<std::int64_t>(tasks.size()), [&](std::int64_t t) {
    const Task& task = tasks[static_cast<std::size_t>(t)];
    switch (isa) {
      case CpuIsa::kAvx512Bf16:
        gemm_bf16_avx512(*task.part, task.begin, task.end);
        break;
      case CpuIsa::kAvx2:
        gemm_bf16_avx2(*task.part, task.begin, task.end);
        break;
      case CpuIsa::kScalar:
        gemm_bf16_scalar(*task.part, task.begin, task.end);
        break;
    }
  });
}

void gemm_bf16(const GemmParams& p, ThreadPool& pool, CpuIsa isa) {
  gemm_bf16_many({&p, 1}, pool, isa);
}

}  // namespace pagoda::cpu
