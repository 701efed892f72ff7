// pagoda_scheduler_bench: CPU time of one scheduler step (schedule() +
// update(), the model replaced by a trivial sampler) at 256 and 1,024 running
// requests, in steady-state decode and with a stream of chunked prefills. Also
// counts heap allocations inside the timed region (global operator new is
// instrumented in this binary). Goal: < 100 us per step at 256 running.
//
//   pagoda_scheduler_bench [--steps=2000]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"

namespace {

std::atomic<std::int64_t> g_num_allocations{0};

}  // namespace

// GCC pairs the inlined malloc/free below with new/delete and warns; they do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  g_num_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace pagoda {
namespace {

struct Result {
  double median_us = 0;
  double p99_us = 0;
  double mean_us = 0;
  double allocations_per_step = 0;
  double tokens_per_step = 0;
  std::int32_t running = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// `mixed`: every step a few new 1,000-token prompts arrive and requests end
// after ~200 tokens, so each plan holds decodes plus prefill chunks.
Result run_case(std::int32_t num_running, bool mixed, int num_steps) {
  SchedulerConfig c;
  c.block_size = 16;
  c.num_blocks = 400000;
  c.max_num_seqs = num_running;
  c.max_num_batched_tokens = num_running + 2048;  // decodes never starve admission
  c.max_model_len = 1 << 20;
  c.max_queued_requests = 1 << 20;
  c.max_queued_prompt_tokens = std::int64_t{1} << 40;
  c.eos_token_ids = {0};
  double now_ms = 0;
  auto created = Scheduler::create(c, [&now_ms] { return now_ms; });
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().to_string().c_str());
    std::exit(1);
  }
  Scheduler& s = **created;
  RequestId next_id = 1;
  std::vector<std::int32_t> prompt;
  auto submit = [&](std::int32_t prompt_len, std::int32_t max_tokens) {
    NewRequest r;
    r.id = next_id++;
    prompt.resize(static_cast<std::size_t>(prompt_len));
    for (std::int32_t i = 0; i < prompt_len; ++i)
      prompt[static_cast<std::size_t>(i)] =
          1 + ((i * 7919 + static_cast<std::int32_t>(r.id) * 104729) % 150000);
    r.prompt_token_ids = prompt;
    r.sampling.max_tokens = max_tokens;
    r.sampling.seed = r.id;
    r.tenant.assign(1, r.id % 2 ? 'a' : 'b');
    if (!s.submit(std::move(r)).ok()) std::exit(1);
  };
  StepResult result;
  result.sampled.reserve(static_cast<std::size_t>(num_running) + 64);
  auto fill_result = [&](const StepPlan& plan) {
    result.step_id = plan.step_id;
    result.sampled.clear();
    for (const ScheduledSequence& q : plan.sequences) {
      if (!q.sample) continue;
      SampledToken& t = result.sampled.emplace_back();
      t.request_id = q.request_id;
      t.token_id = 1 + static_cast<std::int32_t>(
                           (q.request_id * 31 + static_cast<std::uint64_t>(q.num_output_tokens)) % 150000);
    }
  };

  const std::int32_t decode_max_tokens = num_steps + 4000;
  if (mixed) {
    for (std::int32_t i = 0; i < num_running; ++i)
      submit(200 + (i % 7) * 100, 100 + (i * 37) % 200);
  } else {
    for (std::int32_t i = 0; i < num_running; ++i)
      submit(256, decode_max_tokens);
  }
  // Warm up: prefills done, population steady.
  for (int i = 0; i < 1000; ++i) {
    if (mixed) {
      while (s.num_unfinished() < num_running + 8)
        submit(1000, 100 + static_cast<std::int32_t>(next_id * 37 % 200));
    }
    const StepPlan& plan = s.schedule();
    fill_result(plan);
    (void)s.update(result);
    now_ms += 10;
  }
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(num_steps));
  std::int64_t allocations = 0;
  std::int64_t tokens = 0;
  std::int64_t running = 0;
  for (int i = 0; i < num_steps; ++i) {
    if (mixed) {
      while (s.num_unfinished() < num_running + 8)
        submit(1000, 100 + static_cast<std::int32_t>(next_id * 37 % 200));
    }
    const std::int64_t a0 = g_num_allocations.load(std::memory_order_relaxed);
    const auto t0 = std::chrono::steady_clock::now();
    const StepPlan& plan = s.schedule();
    const auto t1 = std::chrono::steady_clock::now();
    const std::int64_t a1 = g_num_allocations.load(std::memory_order_relaxed);
    tokens += plan.num_batched_tokens;
    running += s.num_running();
    fill_result(plan);  // the "model": not timed
    const std::int64_t a2 = g_num_allocations.load(std::memory_order_relaxed);
    const auto t2 = std::chrono::steady_clock::now();
    const auto& events = s.update(result);
    const auto t3 = std::chrono::steady_clock::now();
    allocations += (a1 - a0) + (g_num_allocations.load(std::memory_order_relaxed) - a2);
    (void)events;
    us.push_back(std::chrono::duration<double, std::micro>((t1 - t0) + (t3 - t2)).count());
    now_ms += 10;
  }
  Result r;
  r.median_us = percentile(us, 0.5);
  r.p99_us = percentile(us, 0.99);
  double sum = 0;
  for (double u : us)
    sum += u;
  r.mean_us = sum / static_cast<double>(us.size());
  r.allocations_per_step = static_cast<double>(allocations) / num_steps;
  r.tokens_per_step = static_cast<double>(tokens) / num_steps;
  r.running = static_cast<std::int32_t>(running / num_steps);
  return r;
}

}  // namespace
}  // namespace pagoda

int main(int argc, char** argv) {
  int steps = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--steps=", 8) == 0) {
      steps = std::atoi(argv[i] + 8);
    } else {
      std::fprintf(stderr, "usage: %s [--steps=N]\n", argv[0]);
      return 2;
    }
  }
  std::printf("scheduler step CPU time (schedule + update), %d timed steps per case\n", steps);
  std::printf("%-8s %-8s %8s %12s %10s %10s %10s %14s\n", "case", "max_seqs", "running", "tokens/step",
              "median_us", "p99_us", "mean_us", "allocs/step");
  bool ok = true;
  for (const bool mixed : {false, true}) {
    for (const std::int32_t n : {256, 1024}) {
      const pagoda::Result r = pagoda::run_case(n, mixed, steps);
      std::printf("%-8s %-8d %8d %12.0f %10.1f %10.1f %10.1f %14.2f\n", mixed ? "mixed" : "decode", n,
                  r.running, r.tokens_per_step, r.median_us, r.p99_us, r.mean_us, r.allocations_per_step);
      if (n == 256 && !mixed && r.median_us >= 100.0) ok = false;
    }
  }
  std::printf("goal (< 100 us median at 256 running, decode): %s\n", ok ? "met" : "MISSED");
  return 0;
}
