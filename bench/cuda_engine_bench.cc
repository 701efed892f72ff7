// pagoda_cuda_engine_bench: prefill and decode of CudaModelRunner on a
// random-weight checkpoint (default: the Qwen3-0.6B shape) next to the GPU's
// own ceilings measured in the same run — device-to-device copy bandwidth and
// the cuBLASLt bf16 GEMM rate — so each result is printed as time over its
// floor (GUIDE.md §6, device METHOD.md). Before the steps, kernel tables
// (bench/cuda_kernel_tables.h): the model's GEMMs at decode batch sizes, one
// layer's decode and prefill attention and the device sampler, each kernel
// alone.
//
//   pagoda_cuda_engine_bench [--model DIR] [--preset 0.6b] [--prompt-len 2048]
//                            [--context 512] [--steps 20] [--batches 1,8,64,256]
//                            [--sampled-batches 1,64] [--nccl 0] [--pdl 0] [--fused 1]
//                            [--invariant 0] [--tune-gemms 1] [--tables 1] [--quick 0]
//                            [--profile 0]
// --sampled-batches: decode again at these batch sizes with temperature 0.8
// and top_p 0.95 (the device sampler instead of the argmax), then with
// repetition, presence and frequency penalties too (each row's history read
// and counted on the device).
// --nccl 1: tp 1 through a one-rank NCCL group (collectives and the logits
// gather in the graphs), to see what the collective path costs on one GPU.
// --pdl 1: programmatic kernel launches (compute capability 9.0+) instead of
// plain ones, to measure what overlapping launches gains.
// --fused 0: decode batches of up to 4 with separate add_rms_norm kernels
// instead of the norms and residual adds inside the skinny GEMMs, to measure
// what the fusion gains.
// --invariant 1: the batch-invariant mode (--batch-invariant), to measure
// what it costs.
// --tune-gemms 0: every GEMM shape on the fixed rule (the skinny GEMM up to 4
// rows, else cuBLASLt's heuristic pick) instead of the kernels timed fastest
// at start-up, to measure what the timing gains.
// --tables 0: no kernel tables (runs that compare a runner option).
// --profile 1: the first timed step of each measurement (the prefill, then
// each decode batch in order) between cudaProfilerStart and cudaProfilerStop,
// for `ncu --profile-from-start off` (scripts/ncu_summary.py splits its
// kernels into those steps); the timings of such a run mean nothing.
// --quick 1: a smoke run of the bench itself, not a measurement: small
// ceilings, one timed launch per entry, one prefill, m = 1, 8 in the GEMM
// table and short contexts in the attention table (its test runs it so on
// the SIMT emulator).
// Ends with the results as one markdown table (rows start with "| "), which
// scripts/device_check.sh gathers from every run into its summary.
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/bf16.h"
#include "base/strings.h"
#include "bench/bench_driver.h"
#include "bench/bench_sampling.h"
#include "bench/cuda_bench_timing.h"
#include "bench/cuda_kernel_tables.h"
#include "cuda/cublaslt_gemm.h"
#include "cuda/cuda_device.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"

namespace {

using namespace pagoda;
using bench::check;
using bench::Driver;
using bench::Effort;
using bench::median;
using bench::Seq;
using bench::time_launch;
using Clock = std::chrono::steady_clock;

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
  bool nccl = false, programmatic = false, fused = true, invariant = false, tables = true, profile = false;
  bool tune_gemms = true;
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
    } else if (a == "--tune-gemms") {
      tune_gemms = v == "1";
    } else if (a == "--nccl") {
      nccl = v == "1";
    } else if (a == "--profile") {
      profile = v == "1";
    } else if (a == "--tables") {
      tables = v == "1";
    } else if (a == "--quick") {
      if (v == "1") {
        effort = bench::quick_effort();
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
  ro.tune_gemms = tune_gemms;
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
  if (programmatic) {
    std::printf("%s\n", (*runner)->programmatic_launches()
                            ? "programmatic kernel launches (--pdl 1)"
                            : "--pdl 1 asked for, but this GPU or build cannot: plain launches");
  }
  if (!fused) std::printf("decode norms and residual adds in their own kernels (--fused 0)\n");
  if (invariant) std::printf("batch-invariant mode (--invariant 1)\n");
  if (!tune_gemms) std::printf("GEMM kernels by the fixed rule, none timed at start-up (--tune-gemms 0)\n");
  std::printf("%s", (*runner)->memory_plan().describe().c_str());
  std::printf("%s\n", (*runner)->describe_graphs().c_str());

  // A failed table entry fails the run, but only after every step is measured.
  bool tables_ok = true;
  if (tables) {
    tables_ok = bench::gemm_shape_table(c, bandwidth, effort);
    tables_ok = bench::attention_table(c, devices[0].num_sms, bandwidth, gemm_rate, effort) && tables_ok;
    tables_ok = bench::sampler_table(c, effort) && tables_ok;
  }
  const std::string shape = shape_name(c) + (nccl ? " (nccl)" : "") + (programmatic ? " (pdl)" : "") +
                            (fused ? "" : " (unfused)") + (invariant ? " (invariant)" : "");
  std::vector<std::string> summary;

  Driver driver(**runner);
  // One step, between the profiler's start and stop when profiling.
  auto step_profiled = [&](std::vector<Seq>& seqs, bool first, const std::string& what) {
    if (!(profile && first)) return driver.step(seqs);
    std::printf("profiled step: %s\n", what.c_str());
    cudaProfilerStart();
    const bool ok = driver.step(seqs);
    cudaProfilerStop();
    return ok;
  };
  const double layer_params = static_cast<double>(c.num_parameters()) - static_cast<double>(c.vocab_size) *
                                                                            c.hidden_size *
                                                                            (c.tie_word_embeddings ? 1 : 2);
  // Prefill: one prompt of prompt_len tokens in one step; median of 5 after a warm-up.
  std::vector<double> prefill_s, prefill_dev_ms;
  for (int rep = 0; rep <= effort.prefill_runs; ++rep) {
    driver.reset();
    std::vector<Seq> seqs = {driver.make(prompt_len, rep)};
    auto t = Clock::now();
    if (!step_profiled(seqs, rep == 1, "prefill " + std::to_string(prompt_len))) return 1;
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
      if (!step_profiled(seqs, i == 0, "decode batch " + std::to_string(b) + label)) return false;
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
  SamplingParams sampled = bench::chat_sampling(), penalized = bench::penalized_sampling();
  sampled.seed = 1;
  penalized.seed = 1;
  const std::pair<const SamplingParams*, const char*> sampled_runs[] = {
      {&sampled, ", temperature 0.8, top_p 0.95"}, {&penalized, ", temperature 0.8, top_p 0.95, penalties"}};
  for (const auto& [params, label] : sampled_runs) {
    driver.set_sampling(*params);
    for (int b : sampled_batches) {
      if (!decode(b, label)) return 1;
    }
  }
  std::printf("\nsummary (%s; copy %.0f GB/s, GEMM %.0f TFLOP/s measured in this run):\n",
              devices[0].name.c_str(), bandwidth / 1e9, gemm_rate / 1e12);
  std::printf("| shape | step | tokens/s | ms/step | device ms | floor ms | of floor |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const std::string& row : summary)
    std::printf("%s\n", row.c_str());
  if (!tables_ok) std::fprintf(stderr, "a kernel table entry failed (-1 ms above)\n");
  return tables_ok ? 0 : 1;
}
