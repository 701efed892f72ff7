// pagoda_gemm_bench: the CPU backend's bf16 GEMM (weights packed as at load)
// on the Qwen3-0.6B projection shapes at m = 1, 32, 512 — and, when built with OpenBLAS
// (PAGODA_HAVE_OPENBLAS), OpenBLAS sgemm on f32 copies of the same data, timed alternately in the same run.
// (Debian's OpenBLAS 0.3.21 has no bf16 sbgemm.) Best of 5 each.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "base/bf16.h"
#include "engine/cpu/gemm.h"
#ifdef PAGODA_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double best_seconds(F&& f) {
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t).count());
  }
  return best;
}

}  // namespace

int main() {
  using namespace pagoda;
  cpu::ThreadPool pool(0);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 1);
  std::printf("threads %d, path %s\n", pool.num_threads(),
              std::string(cpu::isa_name(cpu::detected_isa())).c_str());
  struct Shape {
    long n, k;
  };
  for (Shape s : {Shape{3072, 1024}, Shape{1024, 3072}, Shape{2048, 1024}, Shape{1024, 2048}}) {
    std::vector<std::uint16_t> w(static_cast<std::size_t>(s.n * s.k));
    for (auto& v : w)
      v = f32_to_bf16(nd(rng) * 0.03f);
    auto packed = cpu::pack_matrix(w.data(), s.k, s.n, s.k, pool);
    if (!packed.ok()) {
      std::fprintf(stderr, "%s\n", packed.status().to_string().c_str());
      return 1;
    }
    for (long m : {1L, 32L, 512L}) {
      std::vector<std::uint16_t> x(static_cast<std::size_t>(m * s.k));
      for (auto& v : x)
        v = f32_to_bf16(nd(rng));
      std::vector<float> y(static_cast<std::size_t>(m * s.n));
      const double flops = 2.0 * m * s.n * s.k;
      cpu::GemmParams p{x.data(), s.k, packed->view, y.data(), s.n, m};
      double ours = best_seconds([&] { cpu::gemm_bf16(p, pool, cpu::detected_isa()); });
      std::printf("n=%5ld k=%5ld m=%4ld: pagoda bf16 %7.1f GFLOP/s", s.n, s.k, m, flops / ours / 1e9);
#ifdef PAGODA_HAVE_OPENBLAS
      std::vector<float> xf(x.size()), wf(w.size()), y2(y.size());
      for (std::size_t i = 0; i < xf.size(); ++i)
        xf[i] = bf16_to_f32(x[i]);
      for (std::size_t i = 0; i < wf.size(); ++i)
        wf[i] = bf16_to_f32(w[i]);
      openblas_set_num_threads(pool.num_threads());
      double blas = best_seconds([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(s.n),
                    static_cast<int>(s.k), 1.0f, xf.data(), static_cast<int>(s.k), wf.data(),
                    static_cast<int>(s.k), 0.0f, y2.data(), static_cast<int>(s.n));
      });
      double diff = 0;
      for (std::size_t i = 0; i < y.size(); ++i)
        diff = std::max(diff, static_cast<double>(std::fabs(y[i] - y2[i])));
      std::printf("   openblas sgemm (f32 copies) %7.1f GFLOP/s   max |diff| %.1e", flops / blas / 1e9, diff);
#endif
      std::printf("\n");
    }
  }
  return 0;
}
