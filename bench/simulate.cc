// pagoda_simulate: a discrete-event simulation of the real Scheduler against a
// roofline cost model of the step time, to choose scheduler defaults without a
// GPU. Requests arrive by a gamma process (burstiness 1 = Poisson), prompt and
// output lengths are lognormal (a ShareGPT-like mix by default), and a fraction
// share one of a few system prompts (prefix caching). Prints throughput,
// TTFT / TPOT / E2E percentiles, preemptions and the prefix-cache hit rate.
//
// Step time = max(weight bytes / HBM bandwidth, FLOPs / peak)
//           + KV bytes read by attention / HBM bandwidth + fixed overhead,
// with FLOPs = 2 * params * tokens + attention (4 * layers * heads * head_dim
// per token-context pair). Defaults: Qwen3-8B (bf16, 16.4 GB) on one H200
// (4.8 TB/s, 990 TFLOP/s dense bf16).
//
//   pagoda_simulate --rate=20 --num-requests=10000 --max-num-batched-tokens=2048
//   pagoda_simulate --help
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"

namespace pagoda {
namespace {

struct Flag {
  const char* name;
  double value;
  const char* help;
};

// All options are numbers; booleans are 0/1.
std::vector<Flag> g_flags = {
    {"num-requests", 10000, "requests to replay"},
    {"rate", 20, "mean arrival rate, requests/s (0 = all at t=0)"},
    {"burstiness", 1, "gamma shape of inter-arrival times: 1 = Poisson, < 1 burstier"},
    {"prompt-mean", 1000, "mean prompt length (lognormal), tokens"},
    {"prompt-sigma", 1.0, "lognormal sigma of prompt length"},
    {"output-mean", 250, "mean output length (lognormal), tokens"},
    {"output-sigma", 0.8, "lognormal sigma of output length"},
    {"max-model-len", 32768, "prompt + output cap; longer draws are clipped"},
    {"shared-prefix-frac", 0.3, "fraction of requests starting with a shared system prompt"},
    {"num-system-prompts", 8, "distinct shared system prompts"},
    {"system-prompt-len", 512, "tokens per system prompt"},
    {"num-tenants", 1, "tenants (requests assigned round-robin)"},
    {"block-size", 16, "tokens per KV block"},
    {"num-blocks", 0, "KV blocks (0 = from --kv-mem-gb and the model shape)"},
    {"kv-mem-gb", 100, "GPU memory for the KV cache, GB (H200 141 GB - weights - activations)"},
    {"max-num-batched-tokens", 2048, "scheduler token budget per step"},
    {"max-num-seqs", 256, "scheduler sequence limit"},
    {"long-prefill-token-threshold", 512, "cap on one request's chunk per step (0 = off)"},
    {"prefix-caching", 1, "enable prefix caching (0/1)"},
    {"watermark", 0.05, "admission watermark, fraction of the blocks"},
    {"weight-gb", 16.4, "bytes of weights read per step, GB"},
    {"params-b", 8.2, "parameters, billions (2 FLOPs per parameter per token)"},
    {"layers", 36, "transformer layers"},
    {"q-heads", 32, "query heads"},
    {"kv-heads", 8, "KV heads"},
    {"head-dim", 128, "head dimension"},
    {"hbm-tbps", 4.8, "HBM bandwidth, TB/s"},
    {"peak-tflops", 990, "dense bf16 peak, TFLOP/s"},
    {"overhead-us", 500, "fixed per-step overhead (launches, sampling, host), us"},
    {"seed", 1, "random seed"},
};

double flag(const char* name) {
  for (const Flag& f : g_flags) {
    if (std::strcmp(f.name, name) == 0) return f.value;
  }
  std::fprintf(stderr, "internal: unknown flag %s\n", name);
  std::exit(2);
}

bool parse_flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--help") == 0 || std::strncmp(a, "--", 2) != 0) return false;
    const char* eq = std::strchr(a, '=');
    if (eq == nullptr) return false;
    const std::string name(a + 2, eq);
    bool found = false;
    for (Flag& f : g_flags) {
      if (name == f.name) {
        char* end = nullptr;
        f.value = std::strtod(eq + 1, &end);
        if (end == eq + 1 || *end != '\0') return false;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

struct CostModel {
  double weight_bytes;
  double params;
  double attn_flops_per_pair;  // per (token, context position)
  double kv_bytes_per_token;
  double bandwidth;  // bytes/s
  double peak;       // FLOP/s
  double overhead_s;

  // Seconds for one step of `plan`; also reports whether compute bound.
  double step_seconds(const StepPlan& plan, bool* compute_bound) const {
    double flops = 2.0 * params * plan.num_batched_tokens;
    double kv_bytes = 0;
    for (const ScheduledSequence& s : plan.sequences) {
      const double start = s.start_position;
      const double n = s.num_tokens;
      flops += attn_flops_per_pair * (n * start + n * (n + 1) / 2);
      kv_bytes += (start + n) * kv_bytes_per_token;
    }
    const double mem_s = weight_bytes / bandwidth;
    const double compute_s = flops / peak;
    *compute_bound = compute_s > mem_s;
    return std::max(mem_s, compute_s) + kv_bytes / bandwidth + overhead_s;
  }
};

struct SimRequest {
  double arrival_s = 0;
  std::int32_t prompt_len = 0;
  std::int32_t output_len = 0;
  std::int32_t system_prompt = -1;  // -1: none
  double first_token_s = -1;
  double finish_s = -1;
  std::int32_t num_out = 0;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

int run() {
  const auto num_requests = static_cast<std::int32_t>(flag("num-requests"));
  const double rate = flag("rate");
  const double burstiness = flag("burstiness");
  const auto max_model_len = static_cast<std::int32_t>(flag("max-model-len"));
  const auto block_size = static_cast<std::int32_t>(flag("block-size"));
  const auto seed = static_cast<std::uint64_t>(flag("seed"));

  CostModel cost;
  cost.weight_bytes = flag("weight-gb") * 1e9;
  cost.params = flag("params-b") * 1e9;
  cost.attn_flops_per_pair = 4.0 * flag("layers") * flag("q-heads") * flag("head-dim");
  cost.kv_bytes_per_token = 2.0 * 2.0 * flag("layers") * flag("kv-heads") * flag("head-dim");  // K+V, bf16
  cost.bandwidth = flag("hbm-tbps") * 1e12;
  cost.peak = flag("peak-tflops") * 1e12;
  cost.overhead_s = flag("overhead-us") * 1e-6;

  SchedulerConfig c;
  c.block_size = block_size;
  c.num_blocks = static_cast<std::int32_t>(flag("num-blocks"));
  if (c.num_blocks == 0) {
    c.num_blocks =
        static_cast<std::int32_t>(flag("kv-mem-gb") * 1e9 / (cost.kv_bytes_per_token * block_size));
  }
  c.max_num_batched_tokens = static_cast<std::int32_t>(flag("max-num-batched-tokens"));
  c.max_num_seqs = static_cast<std::int32_t>(flag("max-num-seqs"));
  c.max_model_len = max_model_len;
  c.long_prefill_token_threshold = static_cast<std::int32_t>(flag("long-prefill-token-threshold"));
  c.enable_prefix_caching = flag("prefix-caching") != 0;
  c.admission_watermark = flag("watermark");
  c.max_queued_requests = num_requests + 1;
  c.max_queued_prompt_tokens = std::int64_t{1} << 40;
  c.deadline_policy = DeadlinePolicy::kIgnore;

  double now_s = 0;
  auto created = Scheduler::create(c, [&now_s] { return now_s * 1e3; });
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().to_string().c_str());
    return 1;
  }
  Scheduler& sched = **created;

  // Workload.
  std::mt19937_64 rng(seed);
  std::vector<SimRequest> reqs(static_cast<std::size_t>(num_requests));
  auto lognormal = [&](double mean, double sigma) {
    std::lognormal_distribution<double> d(std::log(mean) - sigma * sigma / 2, sigma);
    return d(rng);
  };
  std::gamma_distribution<double> gap(burstiness, rate > 0 ? 1.0 / (rate * burstiness) : 0.0);
  std::uniform_real_distribution<double> unit(0, 1);
  const auto num_system = static_cast<std::int32_t>(flag("num-system-prompts"));
  const auto system_len = static_cast<std::int32_t>(flag("system-prompt-len"));
  double t = 0;
  for (SimRequest& r : reqs) {
    if (rate > 0) t += gap(rng);
    r.arrival_s = t;
    r.output_len = std::clamp(
        static_cast<std::int32_t>(std::lround(lognormal(flag("output-mean"), flag("output-sigma")))), 1,
        max_model_len / 2);
    r.prompt_len = std::clamp(
        static_cast<std::int32_t>(std::lround(lognormal(flag("prompt-mean"), flag("prompt-sigma")))), 1,
        max_model_len - r.output_len);
    if (num_system > 0 && unit(rng) < flag("shared-prefix-frac")) {
      r.system_prompt = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(num_system));
      r.prompt_len = std::min(r.prompt_len + system_len, max_model_len - r.output_len);
    }
  }
  std::vector<std::vector<std::int32_t>> system_prompts(static_cast<std::size_t>(std::max(num_system, 0)));
  for (auto& p : system_prompts) {
    for (std::int32_t i = 0; i < system_len; ++i)
      p.push_back(static_cast<std::int32_t>(1 + rng() % 150000));
  }
  const auto num_tenants = std::max<std::int32_t>(1, static_cast<std::int32_t>(flag("num-tenants")));

  // Replay.
  std::size_t next = 0;
  std::int64_t done = 0;
  std::int64_t rejected = 0;
  std::int64_t num_steps = 0;
  std::int64_t compute_bound_steps = 0;
  double sum_tokens = 0;
  double sum_seqs = 0;
  double busy_s = 0;
  std::vector<double> sched_us;
  StepResult result;
  std::vector<std::int32_t> prompt;
  const auto wall0 = std::chrono::steady_clock::now();
  while (done < num_requests) {
    while (next < reqs.size() && reqs[next].arrival_s <= now_s) {
      const SimRequest& r = reqs[next];
      NewRequest nr;
      nr.id = next;
      prompt.clear();
      if (r.system_prompt >= 0) {
        const auto& sp = system_prompts[static_cast<std::size_t>(r.system_prompt)];
        prompt.assign(sp.begin(), sp.begin() + std::min<std::int32_t>(system_len, r.prompt_len));
      }
      std::mt19937 prng(static_cast<std::uint32_t>(next * 2654435761u + seed));
      while (static_cast<std::int32_t>(prompt.size()) < r.prompt_len) {
        prompt.push_back(static_cast<std::int32_t>(1 + prng() % 150000));
      }
      nr.prompt_token_ids = prompt;
      nr.sampling.max_tokens = r.output_len;
      nr.sampling.ignore_eos = true;
      nr.tenant = std::to_string(next % static_cast<std::size_t>(num_tenants));
      if (!sched.submit(std::move(nr)).ok()) {
        ++rejected;
        ++done;
      }
      ++next;
    }
    if (!sched.has_unfinished()) {
      if (next < reqs.size()) now_s = reqs[next].arrival_s;
      continue;
    }
    const auto c0 = std::chrono::steady_clock::now();
    const StepPlan& plan = sched.schedule();
    const auto c1 = std::chrono::steady_clock::now();
    if (plan.sequences.empty()) {
      if (next >= reqs.size()) {
        std::fprintf(stderr, "stalled: %d requests unfinished and nothing schedulable\n",
                     sched.num_unfinished());
        return 1;
      }
      now_s = std::max(now_s, reqs[next].arrival_s);
      continue;
    }
    bool compute_bound = false;
    const double dt = cost.step_seconds(plan, &compute_bound);
    ++num_steps;
    compute_bound_steps += compute_bound ? 1 : 0;
    sum_tokens += plan.num_batched_tokens;
    sum_seqs += static_cast<double>(plan.sequences.size());
    busy_s += dt;
    now_s += dt;
    result.step_id = plan.step_id;
    result.sampled.clear();
    for (const ScheduledSequence& s : plan.sequences) {
      if (!s.sample) continue;
      SampledToken& tok = result.sampled.emplace_back();
      tok.request_id = s.request_id;
      tok.token_id = static_cast<std::int32_t>(
          1 + (s.request_id * 7919 + static_cast<std::uint64_t>(s.num_output_tokens)) % 150000);
    }
    const auto c2 = std::chrono::steady_clock::now();
    const auto& events = sched.update(result);
    const auto c3 = std::chrono::steady_clock::now();
    sched_us.push_back(std::chrono::duration<double, std::micro>((c1 - c0) + (c3 - c2)).count());
    for (const RequestEvent& e : events) {
      SimRequest& r = reqs[e.request_id];
      if (e.has_token) {
        if (r.first_token_s < 0) r.first_token_s = now_s;
        r.num_out = e.num_output_tokens;
      }
      if (e.finished) {
        r.finish_s = now_s;
        ++done;
      }
    }
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  std::vector<double> ttft, tpot, e2e;
  std::int64_t out_tokens = 0;
  std::int64_t in_tokens = 0;
  double first_arrival = reqs.empty() ? 0 : reqs.front().arrival_s;
  for (const SimRequest& r : reqs) {
    if (r.finish_s < 0) continue;
    out_tokens += r.num_out;
    in_tokens += r.prompt_len;
    ttft.push_back((r.first_token_s - r.arrival_s) * 1e3);
    e2e.push_back((r.finish_s - r.arrival_s) * 1e3);
    if (r.num_out > 1) tpot.push_back((r.finish_s - r.first_token_s) * 1e3 / (r.num_out - 1));
  }
  const double span_s = now_s - first_arrival;
  const SchedulerStats st = sched.stats();
  std::printf(
      "config: rate %.2f req/s, burstiness %.2f, %d requests, blocks %d x %d, budget %d tokens, max_seqs %d, "
      "long_prefill %d, watermark %.2f, prefix caching %s\n",
      rate, burstiness, num_requests, c.num_blocks, c.block_size, c.max_num_batched_tokens, c.max_num_seqs,
      c.long_prefill_token_threshold, c.admission_watermark, c.enable_prefix_caching ? "on" : "off");
  std::printf("workload: mean prompt %.0f, mean output %.0f tokens; %lld rejected\n",
              static_cast<double>(in_tokens) / std::max<std::size_t>(1, ttft.size()),
              static_cast<double>(out_tokens) / std::max<std::size_t>(1, ttft.size()),
              static_cast<long long>(rejected));
  std::printf(
      "throughput: %.2f req/s, %.0f output tok/s, %.0f total tok/s over %.1f s (GPU stepping %.0f%% of the "
      "time)\n",
      static_cast<double>(ttft.size()) / span_s, static_cast<double>(out_tokens) / span_s,
      static_cast<double>(out_tokens + in_tokens) / span_s, span_s, 100.0 * busy_s / span_s);
  std::printf("TTFT ms: p50 %.0f  p90 %.0f  p99 %.0f\n", pct(ttft, 0.5), pct(ttft, 0.9), pct(ttft, 0.99));
  std::printf("TPOT ms: p50 %.1f  p90 %.1f  p99 %.1f\n", pct(tpot, 0.5), pct(tpot, 0.9), pct(tpot, 0.99));
  std::printf("E2E  ms: p50 %.0f  p90 %.0f  p99 %.0f\n", pct(e2e, 0.5), pct(e2e, 0.9), pct(e2e, 0.99));
  std::printf("steps: %lld, mean %.0f tokens and %.1f seqs per step, %.0f%% compute-bound\n",
              static_cast<long long>(num_steps), sum_tokens / std::max<std::int64_t>(1, num_steps),
              sum_seqs / std::max<std::int64_t>(1, num_steps),
              100.0 * static_cast<double>(compute_bound_steps) / std::max<std::int64_t>(1, num_steps));
  std::printf("preemptions: %lld; prefix cache hit rate %.1f%% (%lld of %lld tokens)\n",
              static_cast<long long>(st.num_preemptions),
              100.0 * static_cast<double>(st.prefix_cache_hit_tokens) /
                  static_cast<double>(std::max<std::int64_t>(1, st.prefix_cache_query_tokens)),
              static_cast<long long>(st.prefix_cache_hit_tokens),
              static_cast<long long>(st.prefix_cache_query_tokens));
  std::printf("scheduler CPU per step: p50 %.1f us, p99 %.1f us (simulation wall %.1f s)\n",
              pct(sched_us, 0.5), pct(sched_us, 0.99), wall_s);
  return 0;
}

}  // namespace
}  // namespace pagoda

int main(int argc, char** argv) {
  if (!pagoda::parse_flags(argc, argv)) {
    std::printf("usage: %s [--flag=value ...]\n", argv[0]);
    for (const pagoda::Flag& f : pagoda::g_flags)
      std::printf("  --%-30s %s (default %g)\n", f.name, f.help, f.value);
    return 2;
  }
  return pagoda::run();
}
