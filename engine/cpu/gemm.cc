#include "engine/cpu/gemm.h"

#include <algorithm>
#include <vector>

#include "base/bf16.h"
#include "engine/cpu/aligned_buffer.h"

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

namespace {

void run_panels(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end, CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512Bf16:
      return gemm_bf16_avx512(p, panel_begin, panel_end);
    case CpuIsa::kAvx2:
      return gemm_bf16_avx2(p, panel_begin, panel_end);
    case CpuIsa::kScalar:
      return gemm_bf16_scalar(p, panel_begin, panel_end);
  }
}

// The groups of an epilogue's product in panels [panel_begin, panel_end) (a
// whole number of groups): each group over runs of rows whose outputs fill at
// most kScratchBytes (so they stay in L2 for `take`), rows in multiples of
// the kernels' six-row blocks.
void run_groups(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end, CpuIsa isa) {
  constexpr std::int64_t kScratchBytes = 128 << 10, kRowMultiple = 6;
  const GemmEpilogue& e = *p.epilogue;
  const std::int64_t ld = e.group_panels * PackedMatrix::kPanelRows;
  const std::int64_t cap =
      std::max<std::int64_t>(kRowMultiple, kScratchBytes / (ld * static_cast<std::int64_t>(sizeof(float))) /
                                               kRowMultiple * kRowMultiple);
  const std::int64_t num_runs = (p.m + cap - 1) / cap;
  const std::int64_t rows_per_run =
      ((p.m + num_runs - 1) / num_runs + kRowMultiple - 1) / kRowMultiple * kRowMultiple;
  thread_local AlignedVector<float> scratch;
  if (static_cast<std::int64_t>(scratch.size()) < rows_per_run * ld)
    scratch.resize(static_cast<std::size_t>(rows_per_run * ld));
  for (std::int64_t g0 = panel_begin; g0 < panel_end; g0 += e.group_panels) {
    // The matrix from the group's first panel on, into scratch; only the
    // group's panels are computed, but the kernel sees the next panel to ask
    // for it ahead.
    GemmParams sub = p;
    sub.w.data = p.w.data + g0 * p.w.panel_stride();
    sub.w.n = p.w.n - g0 * PackedMatrix::kPanelRows;
    sub.y = scratch.data();
    sub.ldy = ld;
    sub.epilogue = nullptr;
    for (std::int64_t r0 = 0; r0 < p.m; r0 += rows_per_run) {
      sub.x = p.x + r0 * p.ldx;
      sub.m = std::min(rows_per_run, p.m - r0);
      run_panels(sub, 0, std::min(e.group_panels, sub.w.num_panels()), isa);
      e.take(scratch.data(), ld, r0, sub.m, g0 / e.group_panels);
    }
  }
}

}  // namespace

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
    // An epilogue's tasks hold whole groups.
    const std::int64_t group = p.epilogue != nullptr ? p.epilogue->group_panels : 1;
    const std::int64_t step = (panels_per_task + group - 1) / group * group;
    for (std::int64_t begin = 0; begin < p.w.num_panels(); begin += step)
      tasks.push_back({&p, begin, std::min(p.w.num_panels(), begin + step)});
  }
  pool.parallel_for(static_cast<std::int64_t>(tasks.size()), [&](std::int64_t t) {
    const Task& task = tasks[static_cast<std::size_t>(t)];
    if (task.part->epilogue != nullptr) {
      run_groups(*task.part, task.begin, task.end, isa);
    } else {
      run_panels(*task.part, task.begin, task.end, isa);
    }
  });
}

void gemm_bf16(const GemmParams& p, ThreadPool& pool, CpuIsa isa) {
  gemm_bf16_many({&p, 1}, pool, isa);
}

}  // namespace pagoda::cpu
