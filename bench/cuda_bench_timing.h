// Timing for pagoda_cuda_engine_bench: device events around a launch, the
// median of repeats, and how much the bench measures (Effort; --quick 1 makes
// a smoke run of the bench itself). Host thread with the current device.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

namespace pagoda::bench {

inline bool check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
  return false;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// How much the bench measures: sizes of the ceilings and repeats of each timing.
struct Effort {
  std::size_t copy_bytes = std::size_t{1} << 31;
  std::int64_t gemm_n = 8192;
  int ceiling_warmups = 3, ceiling_runs = 10;
  int warmups = 1, runs = 20;  // each kernel table entry
  int prefill_runs = 5;        // after one warm-up
  std::vector<std::int64_t> table_m = {1, 8, 32, 128};
  // The attention table: decode (batch, context) pairs and prefill prompt lengths.
  std::vector<std::pair<std::int64_t, std::int64_t>> decode_attention = {
      {1, 4096}, {1, 32768}, {16, 4096}, {64, 4096}, {256, 512}};
  std::vector<std::int64_t> prefill_attention = {2048, 8192};
  std::vector<std::int64_t> sample_rows = {1, 64};  // the sampler table's rows per launch
};

// --quick 1.
inline Effort quick_effort() {
  Effort e;
  e.copy_bytes = std::size_t{16} << 20;
  e.gemm_n = 256;
  e.ceiling_warmups = e.warmups = 0;
  e.ceiling_runs = e.runs = e.prefill_runs = 1;
  e.table_m = {1, 8};
  e.decode_attention = {{1, 100}, {3, 70}};
  e.prefill_attention = {70};
  e.sample_rows = {1, 3};
  return e;
}

// Median time of one launch in ms (events), over `runs` after `warmups`;
// -1 when a launch fails.
template <typename Launch>
double time_launch(Launch launch, int warmups, int runs) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> ms;
  bool ok = true;
  for (int i = 0; i < warmups + runs && ok; ++i) {
    cudaEventRecord(start);
    ok = launch();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    if (i >= warmups) ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ok ? median(ms) : -1;
}

}  // namespace pagoda::bench
