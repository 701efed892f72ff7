// SchedulerHarness: a Scheduler driven by a FakeRunner and a manual clock, for
// tests. step() runs schedule -> run -> update, checks invariants, and records
// what ran and every event per request. One thread.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "scheduler/scheduler.h"
#include "tests/scheduler/fake_runner.h"

namespace pagoda::testing {

struct RequestLog {
  std::vector<std::int32_t> tokens;
  bool finished = false;
  int num_final_events = 0;
  FinishReason reason = FinishReason::kNone;
  int num_events_after_final = 0;
};

class SchedulerHarness {
 public:
  explicit SchedulerHarness(SchedulerConfig config, std::int32_t vocab_size = 1000)
      : runner_(config.num_blocks, config.block_size, vocab_size), vocab_size_(vocab_size) {
    auto s = Scheduler::create(std::move(config), [this] { return now_ms; });
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    scheduler = std::move(s).value();
  }

  static NewRequest make(RequestId id, std::vector<std::int32_t> prompt, std::int32_t max_tokens,
                         std::uint64_t seed = 1) {
    NewRequest r;
    r.id = id;
    r.prompt_token_ids = std::move(prompt);
    r.sampling.max_tokens = max_tokens;
    r.sampling.seed = seed;
    return r;
  }
  static std::vector<std::int32_t> tokens(std::int32_t n, std::int32_t first = 100) {
    std::vector<std::int32_t> t;
    for (std::int32_t i = 0; i < n; ++i)
      t.push_back(first + i);
    return t;
  }

  // (request id, num_tokens) of the last step, in plan order.
  using Ran = std::vector<std::pair<RequestId, std::int32_t>>;

  // One full step. Returns what ran.
  Ran step() {
    const StepPlan& plan = scheduler->schedule();
    Ran ran;
    for (const ScheduledSequence& s : plan.sequences)
      ran.emplace_back(s.request_id, s.num_tokens);
    auto result = runner_.run(plan);
    EXPECT_TRUE(result.ok()) << result.status().to_string();
    if (!result.ok()) return ran;
    record(scheduler->update(*result));
    const Status inv = scheduler->check_invariants();
    EXPECT_TRUE(inv.ok()) << inv.to_string();
    return ran;
  }

  void record(const std::vector<RequestEvent>& events) {
    for (const RequestEvent& e : events) {
      RequestLog& log = logs[e.request_id];
      if (log.finished) ++log.num_events_after_final;
      if (e.has_token) log.tokens.push_back(e.token_id);
      EXPECT_EQ(e.num_output_tokens, static_cast<std::int32_t>(log.tokens.size()));
      if (e.finished) {
        log.finished = true;
        ++log.num_final_events;
        log.reason = e.finish_reason;
      }
    }
  }

  // Steps until nothing is unfinished (or max_steps). Returns the steps taken.
  int run_to_completion(int max_steps = 100000) {
    int n = 0;
    while (scheduler->has_unfinished() && n < max_steps) {
      step();
      ++n;
    }
    return n;
  }

  std::vector<std::int32_t> reference(const NewRequest& r,
                                      std::span<const std::int32_t> stop_ids = {}) const {
    return fake_reference_output(*r.sampling.seed, r.prompt_token_ids, r.sampling.max_tokens,
                                 r.sampling.min_tokens, stop_ids, vocab_size_);
  }

  double now_ms = 0.0;
  std::unique_ptr<Scheduler> scheduler;
  std::map<RequestId, RequestLog> logs;
  FakeRunner runner_;
  std::int32_t vocab_size_;
};

}  // namespace pagoda::testing
