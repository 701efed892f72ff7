// pagoda_cuda_engine_bench: prefill and decode of CudaModelRunner on a
// random-weight checkpoint (default: the Qwen3-0.6B shape) next to the GPU's
// own ceilings measured in the same run — device-to-device copy bandwidth and
// the cuBLASLt bf16 GEMM rate — so each result is printed as time over its
// floor (GUIDE.md §6, device METHOD.md).
//
//   pagoda_cuda_engine_bench [--model DIR] [--preset 0.6b] [--prompt-len 2048]
//                            [--context 512] [--steps 20] [--batches 1,8,64,256]
//                            [--sampled-batches 1,64] [--nccl 0] [--pdl 0] [--fused 1]
//                            [--invariant 0] [--quick 0]
// --sampled-batches: decode again at these batch sizes with temperature 0.8
// and top_p 0.95 (the device sampler instead of the argmax).
// --nccl 1: tp 1 through a one-rank NCCL group (collectives and the logits
// gather in the graphs), to see what the collective path costs on one GPU.
// --pdl 1: programmatic kernel launches (compute capability 9.0+) instead of
// plain ones, to measure what overlapping launches gains.
// --fused 0: decode batches of up to 4 with separate add_rms_norm kernels
// instead of the norms and residual adds inside the skinny GEMMs, to measure
// what the fusion gains.
// --invariant 1: the batch-invariant mode (--batch-invariant), to measure
// what it costs.
// --quick 1: a smoke run of the bench itself, not a measurement: small
// ceilings, one timed launch per entry, one prefill and m = 1, 8 in the GEMM
// table (its test runs it so on the SIMT emulator).
// Ends with the results as one markdown table (rows start with "| "), which
// scripts/device_check.sh gathers from every run into its summary.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/bf16.h"
#include "base/strings.h"
#include "bench/bench_driver.h"
#include "cuda/cublaslt_gemm.h"
#include "cuda/cuda_device.h"
#include "cuda/invariant_gemm_kernel.h"
#include "cuda/skinny_gemm_kernel.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"

namespace {

using namespace pagoda;
using bench::Driver;
using bench::Seq;
using Clock = std::chrono::steady_clock;

bool check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
  return false;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// How much the bench measures: sizes of the ceilings and repeats of each timing.
struct Effort {
  std::size_t copy_bytes = std::size_t{1} << 31;
  std::int64_t gemm_n = 8192;
  int ceiling_warmups = 3, ceiling_runs = 10;
  int warmups = 1, runs = 20;  // each GEMM table entry
  int prefill_runs = 5;        // after one warm-up
  std::vector<std::int64_t> table_m = {1, 8, 32, 128};
};

// --quick 1.
Effort quick_effort() {
  Effort e;
  e.copy_bytes = std::size_t{16} << 20;
  e.gemm_n = 256;
  e.ceiling_warmups = e.warmups = 0;
  e.ceiling_runs = e.runs = e.prefill_runs = 1;
  e.table_m = {1, 8};
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

// Device-to-device copy (2 GiB), bytes read + written per second (median of 10 copies).
double measure_copy_bandwidth(const Effort& e) {
  const std::size_t bytes = e.copy_bytes;
  void *a = nullptr, *b = nullptr;
  if (!check(cudaMalloc(&a, bytes), "cudaMalloc") || !check(cudaMalloc(&b, bytes), "cudaMalloc")) return 0;
  cudaMemset(a, 0x3c, bytes);
  const double ms =
      time_launch([&] { return cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice) == cudaSuccess; },
                  e.ceiling_warmups, e.ceiling_runs);
  cudaFree(a);
  cudaFree(b);
  return ms > 0 ? 2.0 * static_cast<double>(bytes) / (ms * 1e-3) : 0;
}

// cuBLASLt bf16 GEMM (8192^3, random inputs), FLOP/s (median of 10 products).
double measure_gemm_rate(const Effort& e) {
  const std::int64_t n = e.gemm_n;
  std::vector<std::uint16_t> host(static_cast<std::size_t>(n * n));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : host)
    v = f32_to_bf16(dist(rng));
  auto x = cuda::DeviceBuffer::allocate(host.size() * 2, "x");
  auto w = cuda::DeviceBuffer::allocate(host.size() * 2, "w");
  auto y = cuda::DeviceBuffer::allocate(host.size() * 4, "y");
  auto gemm = cuda::CublasLtGemm::create(32u << 20);
  if (!x.ok() || !w.ok() || !y.ok() || !gemm.ok()) return 0;
  cudaMemcpy(x->get(), host.data(), host.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(w->get(), host.data(), host.size() * 2, cudaMemcpyHostToDevice);
  cuda::GemmArgs a{x->as<std::uint16_t>(), w->as<std::uint16_t>(), y->as<float>(), n, n, n, n, n, n};
  const double ms =
      time_launch([&] { return (*gemm)->run(a, nullptr).ok(); }, e.ceiling_warmups, e.ceiling_runs);
  return ms > 0 ? 2.0 * n * n * n / (ms * 1e-3) : 0;
}

double time_gemm(cuda::CublasLtGemm& g, const cuda::GemmArgs& a, const Effort& e) {
  return time_launch([&] { return g.run(a, nullptr).ok(); }, e.warmups, e.runs);
}

// The model's projections at decode batch sizes: cuBLASLt's first heuristic
// pick against the fastest timed candidate, as achieved bandwidth.
void gemm_shape_table(const ModelConfig& c, double bandwidth, const Effort& e) {
  struct Shape {
    const char* name;
    std::int64_t n, k;
  };
  const std::int64_t h = c.hidden_size, q = static_cast<std::int64_t>(c.num_attention_heads) * c.head_dim,
                     kv = static_cast<std::int64_t>(c.num_key_value_heads) * c.head_dim;
  const Shape shapes[] = {{"qkv", q + 2 * kv, h},
                          {"o_proj", h, q},
                          {"gate_up", 2 * static_cast<std::int64_t>(c.intermediate_size), h},
                          {"down", h, c.intermediate_size},
                          {"lm_head", c.vocab_size, h}};
  // Every product reads x as [m, k] and writes y as [m, n]: buffers for the largest of each.
  std::int64_t max_w = 0, max_x = 0, max_y = 0;
  for (const Shape& sh : shapes) {
    for (std::int64_t m : e.table_m) {
      max_w = std::max(max_w, sh.n * sh.k);
      max_x = std::max(max_x, m * sh.k);
      max_y = std::max(max_y, m * sh.n);
    }
  }
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  auto random_bf16 = [&](std::int64_t n) {
    std::vector<std::uint16_t> v(static_cast<std::size_t>(n));
    for (auto& b : v)
      b = f32_to_bf16(dist(rng));
    return v;
  };
  const std::vector<std::uint16_t> host_w = random_bf16(max_w), host_x = random_bf16(max_x);
  auto w = cuda::DeviceBuffer::allocate(host_w.size() * 2, "w");
  auto x = cuda::DeviceBuffer::allocate(host_x.size() * 2, "x");
  auto y = cuda::DeviceBuffer::allocate(static_cast<std::size_t>(max_y) * 4, "y");
  auto heuristic = cuda::CublasLtGemm::create(32u << 20);
  auto tuned = cuda::CublasLtGemm::create(32u << 20);
  if (!w.ok() || !x.ok() || !y.ok() || !heuristic.ok() || !tuned.ok()) return;
  (*heuristic)->set_autotune_max_m(0);
  cudaMemcpy(w->get(), host_w.data(), host_w.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(x->get(), host_x.data(), host_x.size() * 2, cudaMemcpyHostToDevice);
  std::printf(
      "GEMM (cuBLASLt bf16 -> f32): us per product, heuristic pick / timed pick (%% of copy bandwidth); "
      "ours: the skinny GEMM; inv: the batch-invariant one\n");
  for (const Shape& sh : shapes) {
    std::printf("  %-8s %6lld x %5lld:", sh.name, static_cast<long long>(sh.n), static_cast<long long>(sh.k));
    for (std::int64_t m : e.table_m) {
      cuda::GemmArgs a{
          x->as<std::uint16_t>(), w->as<std::uint16_t>(), y->as<float>(), m, sh.n, sh.k, sh.k, sh.k, sh.n};
      const double bytes = 2.0 * sh.n * sh.k + 2.0 * m * sh.k + 4.0 * m * sh.n;
      const double th = time_gemm(**heuristic, a, e), tt = time_gemm(**tuned, a, e);
      std::printf("  m=%-3lld %6.1f/%6.1f (%3.0f%%)", static_cast<long long>(m), th * 1e3, tt * 1e3,
                  100.0 * bytes / (tt * 1e-3) / bandwidth);
      const cuda::SkinnyGemmParams sp{a.x, a.w, a.y, m, sh.n, sh.k, sh.k, sh.k, sh.n, 0};
      if (cuda::skinny_gemm_supports(sp)) {
        const double ts = time_launch([&] { return cuda::launch_skinny_gemm(sp, nullptr) == cudaSuccess; },
                                      e.warmups, e.runs);
        std::printf(" ours %6.1f (%3.0f%%)", ts * 1e3, 100.0 * bytes / (ts * 1e-3) / bandwidth);
      }
      cuda::InvariantGemmParams ip{a.x, a.w, a.y, m, sh.n, sh.k, sh.k, sh.k, sh.n};
      ip.block_rows = cuda::invariant_gemm_block_rows(m);
      if (cuda::invariant_gemm_supports(ip)) {
        const double ti = time_launch([&] { return cuda::launch_invariant_gemm(ip, nullptr) == cudaSuccess; },
                                      e.warmups, e.runs);
        std::printf(" inv %6.1f (%3.0f%%)", ti * 1e3, 100.0 * bytes / (ti * 1e-3) / bandwidth);
      }
    }
    std::printf("\n");
  }
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The preset whose shape `c` has ("8b"), else its dimensions.
std::string shape_name(const ModelConfig& c) {
  for (const std::string& name : model_preset_names()) {
    StatusOr<ModelConfig> p = model_preset(name);
    if (p.ok() && p->hidden_size == c.hidden_size && p->num_hidden_layers == c.num_hidden_layers &&
        p->num_attention_heads == c.num_attention_heads && p->num_key_value_heads == c.num_key_value_heads &&
        p->intermediate_size == c.intermediate_size && p->vocab_size == c.vocab_size) {
      return name;
    }
  }
  return "hidden " + std::to_string(c.hidden_size) + " x " + std::to_string(c.num_hidden_layers) + " layers";
}

// One row of the closing table.
std::string summary_row(const std::string& shape, const std::string& step, double tokens_per_s, double ms,
                        double device_ms, double floor_ms) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "| %s | %s | %.0f | %.3f | %.3f | %.3f | %.0f %% |", shape.c_str(),
                step.c_str(), tokens_per_s, ms, device_ms, floor_ms, 100.0 * floor_ms / ms);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir = "/tmp/pagoda-bench-0.6b", preset = "0.6b";
  int prompt_len = 2048, context = 512, steps = 20;
  bool nccl = false, programmatic = false, fused = true, invariant = false;
  Effort effort;
  std::vector<std::int32_t> batches = {1, 8, 64, 256};
  std::vector<std::int32_t> sampled_batches = {1, 64};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") {
      model_dir = v;
    } else if (a == "--preset") {
      preset = v;
    } else if (a == "--prompt-len") {
      prompt_len = std::stoi(v);
    } else if (a == "--context") {
      context = std::stoi(v);
    } else if (a == "--steps") {
      steps = std::stoi(v);
    } else if (a == "--batches") {
      batches = parse_int_list(v, "--batches").value();
    } else if (a == "--pdl") {
      programmatic = v == "1";
    } else if (a == "--fused") {
      fused = v == "1";
    } else if (a == "--invariant") {
      invariant = v == "1";
    } else if (a == "--nccl") {
      nccl = v == "1";
    } else if (a == "--quick") {
      if (v == "1") {
        effort = quick_effort();
        std::printf("--quick 1: a smoke run of the bench, not a measurement\n");
      }
    } else if (a == "--sampled-batches") {
      sampled_batches = parse_int_list(v, "--sampled-batches").value();
    } else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  const auto devices = cuda::list_devices();
  if (devices.empty()) {
    std::printf("no CUDA device (%s): nothing to measure\n", cuda::no_device_reason().c_str());
    return 0;
  }
  std::printf("device: %s, %d SMs, %.0f GiB\n", devices[0].name.c_str(), devices[0].num_sms,
              static_cast<double>(devices[0].total_memory_bytes) / (1 << 30));
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "config.json")) {
    std::printf("writing a random %s-shaped checkpoint to %s ...\n", preset.c_str(), model_dir.c_str());
    RandomCheckpointOptions o;
    o.config = model_preset(preset).value();
    o.out_dir = model_dir;
    if (Status s = write_random_checkpoint(o); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
  }
  const double bandwidth = measure_copy_bandwidth(effort);
  const double gemm_rate = measure_gemm_rate(effort);
  std::printf("ceilings (same run): copy %.0f GB/s (read + write), cuBLASLt bf16 GEMM %lld^3 %.0f TFLOP/s\n",
              bandwidth / 1e9, static_cast<long long>(effort.gemm_n), gemm_rate / 1e12);

  auto config = load_model_config(model_dir);
  auto ckpt = Checkpoint::open(model_dir);
  if (!config.ok() || !ckpt.ok()) {
    std::fprintf(stderr, "cannot load %s\n", model_dir.c_str());
    return 1;
  }
  auto checkpoint = std::make_shared<const Checkpoint>(std::move(ckpt).value());
  const ModelConfig& c = *config;
  int max_batch = *std::max_element(batches.begin(), batches.end());
  for (int b : sampled_batches)
    max_batch = std::max(max_batch, b);
  cuda::CudaRunnerOptions ro;
  ro.nccl_at_tp1 = nccl;
  ro.programmatic_launch = programmatic;
  ro.fused_decode = fused;
  ro.batch_invariant = invariant;
  ro.limits.max_tokens = std::max(prompt_len, max_batch);
  ro.limits.max_seqs = max_batch;
  ro.limits.max_model_len = std::max(prompt_len, context + steps + 8);
  auto t_load = Clock::now();
  auto runner = cuda::CudaModelRunner::create(c, checkpoint, ro);
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", runner.status().to_string().c_str());
    return 1;
  }
  std::printf(
      "model: %s (hidden %d, layers %d, heads %d/%d, head_dim %d, inter %d, vocab %d); loaded in %.1f s\n",
      model_dir.c_str(), c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
      c.head_dim, c.intermediate_size, c.vocab_size, seconds_since(t_load));
  if (nccl) std::printf("tp 1 through a one-rank NCCL group (--nccl 1)\n");
  if (programmatic) std::printf("programmatic kernel launches (--pdl 1)\n");
  if (!fused) std::printf("decode norms and residual adds in their own kernels (--fused 0)\n");
  if (invariant) std::printf("batch-invariant mode (--invariant 1)\n");
  std::printf("%s", (*runner)->memory_plan().describe().c_str());
  std::printf("%s\n", (*runner)->describe_graphs().c_str());

  gemm_shape_table(c, bandwidth, effort);
  const std::string shape = shape_name(c) + (nccl ? " (nccl)" : "") + (programmatic ? " (pdl)" : "") +
                            (fused ? "" : " (unfused)") + (invariant ? " (invariant)" : "");
  std::vector<std::string> summary;

  Driver driver(**runner);
  const double layer_params = static_cast<double>(c.num_parameters()) - static_cast<double>(c.vocab_size) *
                                                                            c.hidden_size *
                                                                            (c.tie_word_embeddings ? 1 : 2);
  // Prefill: one prompt of prompt_len tokens in one step; median of 5 after a warm-up.
  std::vector<double> prefill_s, prefill_dev_ms;
  for (int rep = 0; rep <= effort.prefill_runs; ++rep) {
    driver.reset();
    std::vector<Seq> seqs = {driver.make(prompt_len, rep)};
    auto t = Clock::now();
    if (!driver.step(seqs)) return 1;
    if (rep > 0) prefill_s.push_back(seconds_since(t));
    if (rep > 0) prefill_dev_ms.push_back((*runner)->last_step_device_ms());
  }
  const double attn_flops = 4.0 * c.num_hidden_layers * c.num_attention_heads * c.head_dim *
                            (static_cast<double>(prompt_len) * (prompt_len + 1) / 2);
  const double prefill_flops =
      2.0 * layer_params * prompt_len + attn_flops + 2.0 * c.vocab_size * static_cast<double>(c.hidden_size);
  const double pf = median(prefill_s);
  std::printf(
      "prefill %d tokens: %.2f ms (device %.2f ms), %.0f tokens/s; GEMM-rate floor %.2f ms -> %.0f%% of the "
      "rate\n",
      prompt_len, pf * 1e3, median(prefill_dev_ms), prompt_len / pf, prefill_flops / gemm_rate * 1e3,
      100.0 * prefill_flops / gemm_rate / pf);
  summary.push_back(summary_row(shape, "prefill " + std::to_string(prompt_len) + " tokens (GEMM-rate floor)",
                                prompt_len / pf, pf * 1e3, median(prefill_dev_ms),
                                prefill_flops / gemm_rate * 1e3));

  // Decode with `context` tokens in the cache; median step time over `steps`.
  const double weight_bytes =
      static_cast<double>(cuda::CudaWeights::bytes_needed(c, cpu::RankShard::make(c, 0, 1).value()));
  const double embed_bytes = static_cast<double>(c.vocab_size) * c.hidden_size * 2;
  auto decode = [&](int b, const char* label) {
    driver.reset();
    std::vector<Seq> seqs;
    for (int i = 0; i < b; ++i) {
      std::vector<Seq> one = {driver.make(context, 100 + i)};
      if (!driver.step(one)) return false;  // each prompt alone, within max_tokens
      seqs.push_back(one[0]);
    }
    if (!driver.step(seqs)) return false;  // warm-up decode
    std::vector<double> step_s, device_ms;
    for (int i = 0; i < steps; ++i) {
      auto t = Clock::now();
      if (!driver.step(seqs)) return false;
      step_s.push_back(seconds_since(t));
      device_ms.push_back((*runner)->last_step_device_ms());
    }
    const double s = median(step_s);
    const double dev = median(device_ms) * 1e-3;
    // Bytes a step must read once: the weights (the untied embedding only
    // gathers b rows) and each sequence's K and V. HBM bandwidth is shared by
    // reads and writes, so the copy's read + write rate is what a read-only
    // stream can reach.
    double bytes =
        c.tie_word_embeddings ? weight_bytes : weight_bytes - embed_bytes + b * c.hidden_size * 2.0;
    bytes += static_cast<double>(b) * (context + steps) * c.num_hidden_layers * c.num_key_value_heads *
             c.head_dim * 4.0;
    const double floor_s = bytes / bandwidth;
    std::printf(
        "decode batch %3d%s: %8.1f tokens/s, %.3f ms/step (device %.3f), bandwidth floor %.3f ms -> %.0f%% "
        "of "
        "floor (device alone %.0f%%)\n",
        b, label, b / s, s * 1e3, dev * 1e3, floor_s * 1e3, 100.0 * floor_s / s, 100.0 * floor_s / dev);
    summary.push_back(summary_row(shape,
                                  "decode batch " + std::to_string(b) + ", context " +
                                      std::to_string(context) + label + " (bandwidth floor)",
                                  b / s, s * 1e3, dev * 1e3, floor_s * 1e3));
    return true;
  };
  for (int b : batches) {
    if (!decode(b, "")) return 1;
  }
  SamplingParams sampled;
  sampled.temperature = 0.8;
  sampled.top_p = 0.95;
  sampled.seed = 1;
  driver.set_sampling(sampled);
  for (int b : sampled_batches) {
    if (!decode(b, ", temperature 0.8, top_p 0.95")) return 1;
  }
  std::printf("\nsummary (%s; copy %.0f GB/s, GEMM %.0f TFLOP/s measured in this run):\n",
              devices[0].name.c_str(), bandwidth / 1e9, gemm_rate / 1e12);
  std::printf("| shape | step | tokens/s | ms/step | device ms | floor ms | of floor |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const std::string& row : summary)
    std::printf("%s\n", row.c_str());
  return 0;
}
