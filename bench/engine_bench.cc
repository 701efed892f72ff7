// pagoda_engine_bench: prefill and decode throughput of the CPU backend on a
// random-weight checkpoint (default: the Qwen3-0.6B shape), next to this
// machine's memory read bandwidth measured in the same run (alternating with
// the decode steps), so decode can be reported as a fraction of its bandwidth
// bound.
//
//   pagoda_engine_bench [--model DIR] [--threads N] [--prompt-len 512]
//                       [--context 128] [--steps 8] [--batches 1,8,32]
//                       [--block-size 16]
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "bench/bench_driver.h"
#include "engine/cpu/cpu_model_runner.h"
#include "engine/cpu/thread_pool.h"
#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"

namespace {

using namespace pagoda;
using bench::Driver;
using bench::Seq;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The machine's memory read bandwidth, measured between decode steps: on
// this shared VM it drifts by 2x over minutes, so a probe taken once at start
// says little about the steps measured later. Each pass streams a buffer much
// larger than the caches with every thread (also evicting the weights, as a
// decode step's own reads do). The buffer sits on transparent huge pages where
// the kernel offers them, as weights read into memory do
// (MappedFile::read_aligned, which this benchmark's checkpoint takes): on 4 KiB
// pages the probe read 6-8 % less here, which flattered the decode fractions.
class BandwidthProbe {
 public:
  static constexpr std::size_t kBytes = std::size_t{1} << 30;

  explicit BandwidthProbe(int num_threads)
      : pool_(num_threads),
        mem_(static_cast<float*>(std::aligned_alloc(kHugePageBytes, kBytes)), &std::free) {
    if (!mem_) {
      std::fprintf(stderr, "cannot allocate the bandwidth probe's buffer\n");
      std::exit(1);
    }
    madvise(mem_.get(), kBytes, MADV_HUGEPAGE);  // a hint; without THP the pages stay small
    std::fill(mem_.get(), mem_.get() + kBytes / sizeof(float), 1.0f);
  }

  // One pass over the whole buffer; bytes per second.
  double pass() {
    const std::size_t per = kBytes / sizeof(float) / kChunks;
    const float* base = mem_.get();
    auto t = Clock::now();
    pool_.parallel_for(kChunks, [&](std::int64_t c) {
      const float* p = base + static_cast<std::size_t>(c) * per;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
             a3 = _mm256_setzero_ps();
      for (std::size_t i = 0; i + 32 <= per; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
      }
      float tmp[8];
      _mm256_storeu_ps(tmp, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
      sums_[static_cast<std::size_t>(c)] = std::accumulate(tmp, tmp + 8, 0.0f);
    });
    const double rate = static_cast<double>(kBytes) / seconds_since(t);
    if (std::accumulate(sums_.begin(), sums_.end(), 0.0f) < 0) std::puts("");  // keep the loads
    // Let the probe's workers stop spinning (ThreadPool spins ~100 us before
    // sleeping) so they do not compete with the step measured next.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return rate;
  }

 private:
  static constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;
  static constexpr std::int64_t kChunks = 256;
  cpu::ThreadPool pool_;
  std::unique_ptr<float, decltype(&std::free)> mem_;
  std::vector<float> sums_ = std::vector<float>(kChunks);
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

long peak_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir = "/tmp/pagoda-bench-0.6b";
  int threads = 0, prompt_len = 512, context = 128, steps = 8, block_size = 16;
  std::vector<std::int32_t> batches = {1, 8, 32};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--model")
      model_dir = v;
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--prompt-len")
      prompt_len = std::stoi(v);
    else if (a == "--context")
      context = std::stoi(v);
    else if (a == "--steps")
      steps = std::stoi(v);
    else if (a == "--block-size")
      block_size = std::stoi(v);
    else if (a == "--batches")
      batches = parse_int_list(v, "--batches").value();
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (steps < 1 || prompt_len < 1 || context < 1 || block_size < 1) {
    std::fprintf(stderr, "--steps, --prompt-len, --context and --block-size must be at least 1\n");
    return 2;
  }
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "config.json")) {
    std::printf("writing a random 0.6b-shaped checkpoint to %s ...\n", model_dir.c_str());
    RandomCheckpointOptions o;
    o.config = model_preset("0.6b").value();
    o.out_dir = model_dir;
    if (Status s = write_random_checkpoint(o); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
  }
  const int nthreads = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  // Allocated (and resident) before the peak-RSS mark is reset, so the peak
  // reported at the end is the engine's plus exactly this buffer.
  BandwidthProbe probe(nthreads);
  // Forget the checkpoint writer's memory in the peak-RSS figure (Linux: "5"
  // resets VmHWM to the current RSS).
  std::ofstream("/proc/self/clear_refs") << "5";
  auto config = load_model_config(model_dir);
  auto ckpt = Checkpoint::open(model_dir);
  if (!config.ok() || !ckpt.ok()) {
    std::fprintf(stderr, "cannot load %s\n", model_dir.c_str());
    return 1;
  }
  auto checkpoint = std::make_shared<const Checkpoint>(std::move(ckpt).value());
  const int max_batch = *std::max_element(batches.begin(), batches.end());
  cpu::CpuRunnerOptions ro;
  ro.num_threads = threads;
  const std::int64_t max_tokens =
      std::max<std::int64_t>(prompt_len, static_cast<std::int64_t>(max_batch) * (context + steps + 2));
  ro.block_size = block_size;
  ro.num_kv_blocks = static_cast<int>(max_tokens / block_size + max_batch + 8);
  auto runner = cpu::CpuModelRunner::create(*config, checkpoint, ro);
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", runner.status().to_string().c_str());
    return 1;
  }
  const ModelConfig& c = *config;
  std::printf("model: %s (hidden %d, layers %d, heads %d/%d, head_dim %d, inter %d, vocab %d, %s)\n",
              model_dir.c_str(), c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
              c.num_key_value_heads, c.head_dim, c.intermediate_size, c.vocab_size,
              c.tie_word_embeddings ? "tied" : "untied");
  std::printf("cpu path: %s, threads: %d, KV block size: %d\n",
              std::string(cpu::isa_name((*runner)->isa())).c_str(), nthreads, block_size);
  std::printf("memory read bandwidth (probe before the steps, %d threads): %.2f GB/s\n", nthreads,
              probe.pass() / 1e9);

  Driver driver(**runner);
  // Prefill: one prompt of prompt_len tokens in one step (best of 3).
  double best_prefill = 0;
  for (int rep = 0; rep < 3; ++rep) {
    driver.reset();
    std::vector<Seq> seqs = {driver.make(prompt_len, rep)};
    auto t = Clock::now();
    if (!driver.step(seqs)) return 1;
    best_prefill = std::max(best_prefill, prompt_len / seconds_since(t));
  }
  const double flops_per_token =
      2.0 * (static_cast<double>(c.num_parameters()) -
             static_cast<double>(c.vocab_size) * c.hidden_size * (c.tie_word_embeddings ? 1 : 2));
  std::printf("prefill %d tokens: %.1f tokens/s (%.1f GFLOP/s in the layers)\n", prompt_len, best_prefill,
              best_prefill * flops_per_token / 1e9);

  // Decode at each batch size with `context` tokens already in the cache.
  const double weight_bytes = static_cast<double>(checkpoint->total_tensor_bytes());
  const double embed_bytes = static_cast<double>(c.vocab_size) * c.hidden_size * 2;
  for (int b : batches) {
    driver.reset();
    std::vector<Seq> seqs;
    for (int i = 0; i < b; ++i)
      seqs.push_back(driver.make(context, 100 + i));
    for (auto& s : seqs) {
      std::vector<Seq> one = {s};
      if (!driver.step(one)) return 1;
      s = one[0];
    }
    if (!driver.step(seqs)) return 1;  // warm-up
    // Bytes a step must read: every weight once (untied: only b rows of the
    // embedding are gathered), plus each sequence's K and V (at its mean
    // context over the measured steps).
    double bytes =
        c.tie_word_embeddings ? weight_bytes : weight_bytes - embed_bytes + b * c.hidden_size * 2.0;
    bytes += static_cast<double>(b) * (context + 1 + steps / 2.0) * c.num_hidden_layers *
             c.num_key_value_heads * c.head_dim * 4.0;
    // Probe pass and step alternate; each step is compared with the bandwidth
    // measured just before it, and the medians are reported (this machine's
    // neighbours slow single steps at random).
    std::vector<double> step_times, rates, fractions;
    for (int i = 0; i < steps; ++i) {
      const double rate = probe.pass();
      auto t = Clock::now();
      if (!driver.step(seqs)) return 1;
      const double step_s = seconds_since(t);
      step_times.push_back(step_s);
      rates.push_back(rate);
      fractions.push_back(bytes / rate / step_s);
    }
    const double step_s = median(step_times);
    std::printf(
        "decode batch %2d: %7.1f tokens/s, %.1f ms/step, bandwidth %.1f GB/s (min %.1f, max %.1f) "
        "-> %.0f%% of the bandwidth bound (medians of %d alternating probe passes and steps)\n",
        b, b / step_s, step_s * 1e3, median(rates) / 1e9, *std::min_element(rates.begin(), rates.end()) / 1e9,
        *std::max_element(rates.begin(), rates.end()) / 1e9, 100.0 * median(fractions), steps);
  }
  const double kv_bytes =
      static_cast<double>((*runner)->kv_cache_info().bytes_per_block) * (*runner)->kv_cache_info().num_blocks;
  std::printf(
      "peak RSS: %.0f MiB without the probe's buffer (checkpoint %.0f MiB + KV cache %.0f MiB allocated)\n",
      peak_rss_kib() / 1024.0 - BandwidthProbe::kBytes / 1048576.0, weight_bytes / 1048576.0,
      kv_bytes / 1048576.0);
  return 0;
}
