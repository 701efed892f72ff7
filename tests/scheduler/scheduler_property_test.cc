// Property tests: random workloads (arrivals, shared prefixes, priorities,
// tenants, aborts in and out of flight, engine finishes, deadlines, tiny caches
// that force preemption) against the FakeRunner, which verifies every plan
// against its KV mirror. Invariants: every request ends exactly once; outputs
// equal the request's output run alone (so recompute after preemption and
// prefix-cache hits reproduce them exactly); no block leaks; ref counts match.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/scheduler/scheduler_harness.h"

namespace pagoda::testing {
namespace {

struct Totals {
  std::int64_t preemptions = 0;
  std::int64_t hit_tokens = 0;
  std::int64_t finished_ok = 0;
  std::int64_t aborted = 0;
  std::int64_t shed = 0;
};

void run_workload(std::uint64_t seed, Totals& totals) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {  // inclusive
    return static_cast<std::int32_t>(
        lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1)));
  };
  SchedulerConfig c;
  const std::int32_t sizes[] = {1, 2, 4, 8, 16};
  c.block_size = sizes[rng() % 5];
  c.num_blocks = uniform(4, 48) * (c.block_size >= 8 ? 1 : 2);
  c.max_num_batched_tokens = uniform(1, 64);
  c.max_num_seqs = uniform(1, 8);
  c.long_prefill_token_threshold = rng() % 2 ? 0 : uniform(1, 16);
  c.enable_prefix_caching = rng() % 4 != 0;
  c.max_model_len = 160;
  c.admission_watermark = uniform(0, 10) / 100.0;
  c.eos_token_ids = {0};
  c.deadline_policy = rng() % 2 ? DeadlinePolicy::kShed : DeadlinePolicy::kIgnore;
  constexpr std::int32_t kVocab = 40;
  SchedulerHarness h(c, kVocab);

  std::vector<std::vector<std::int32_t>> prefixes(3);
  for (auto& p : prefixes) {
    const std::int32_t n = uniform(0, 40);
    for (std::int32_t i = 0; i < n; ++i)
      p.push_back(uniform(1, 999));
  }
  const int num_requests = uniform(10, 60);
  std::vector<NewRequest> accepted;
  std::vector<RequestId> engine_finished;
  int next = 0;
  const char* tenants[] = {"a", "b", "c"};
  for (int step = 0; step < 20000; ++step) {
    // Arrivals.
    while (next < num_requests && rng() % 3 == 0) {
      NewRequest r;
      r.id = static_cast<RequestId>(next + 1);
      r.prompt_token_ids = prefixes[rng() % 3];
      r.prompt_token_ids.resize(
          static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(r.prompt_token_ids.size()))));
      const std::int32_t suffix = uniform(rng() % 5 == 0 ? 0 : 1, 20);
      for (std::int32_t i = 0; i < suffix; ++i)
        r.prompt_token_ids.push_back(uniform(1, 999));
      r.sampling.max_tokens = uniform(1, 30);
      r.sampling.min_tokens = rng() % 4 == 0 ? uniform(0, r.sampling.max_tokens) : 0;
      r.sampling.ignore_eos = rng() % 5 == 0;
      if (rng() % 4 == 0) r.sampling.stop_token_ids = {uniform(1, kVocab - 1)};
      r.sampling.seed = rng();
      r.priority = uniform(0, 2);
      r.tenant = tenants[rng() % 3];
      if (rng() % 6 == 0) r.ttft_deadline_ms = uniform(0, 30);
      ++next;
      const Status s = h.scheduler->submit(r);
      if (s.ok()) {
        accepted.push_back(r);
      } else {
        ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
      }
    }
    if (next >= num_requests && !h.scheduler->has_unfinished()) break;
    // Between-step cancels and engine finishes (stop strings).
    if (!accepted.empty() && rng() % 25 == 0) {
      (void)h.scheduler->abort(accepted[rng() % accepted.size()].id);
    }
    if (!accepted.empty() && rng() % 40 == 0) {
      const RequestId id = accepted[rng() % accepted.size()].id;
      if (h.scheduler->finish(id, FinishReason::kStop).ok()) engine_finished.push_back(id);
    }
    const StepPlan& plan = h.scheduler->schedule();
    ASSERT_LE(plan.num_batched_tokens, c.max_num_batched_tokens);
    ASSERT_LE(static_cast<std::int32_t>(plan.sequences.size()), c.max_num_seqs);
    auto result = h.runner_.run(plan);
    ASSERT_TRUE(result.ok()) << "seed " << seed << " step " << step << ": " << result.status().to_string();
    // In-flight cancel.
    if (!plan.sequences.empty() && rng() % 20 == 0) {
      (void)h.scheduler->abort(plan.sequences[rng() % plan.sequences.size()].request_id);
    }
    h.record(h.scheduler->update(*result));
    const Status inv = h.scheduler->check_invariants();
    ASSERT_TRUE(inv.ok()) << "seed " << seed << " step " << step << ": " << inv.to_string();
    h.now_ms += 1.0;
  }
  ASSERT_FALSE(h.scheduler->has_unfinished()) << "seed " << seed << ": did not drain";
  ASSERT_EQ(h.scheduler->allocator().num_free_blocks(), c.num_blocks) << "seed " << seed << ": leaked blocks";
  ASSERT_TRUE(h.scheduler->check_invariants().ok());

  for (const NewRequest& r : accepted) {
    const RequestLog& log = h.logs[r.id];
    ASSERT_EQ(log.num_final_events, 1) << "seed " << seed << " request " << r.id;
    ASSERT_EQ(log.num_events_after_final, 0);
    std::vector<std::int32_t> stops;
    if (!r.sampling.ignore_eos) stops.push_back(0);
    stops.insert(stops.end(), r.sampling.stop_token_ids.begin(), r.sampling.stop_token_ids.end());
    const auto expect = h.reference(r, stops);
    const bool by_engine =
        std::find(engine_finished.begin(), engine_finished.end(), r.id) != engine_finished.end();
    switch (log.reason) {
      case FinishReason::kStop:
      case FinishReason::kLength:
        if (!by_engine) {
          ASSERT_EQ(log.tokens, expect) << "seed " << seed << " request " << r.id;
          ++totals.finished_ok;
          break;
        }
        [[fallthrough]];
      case FinishReason::kAbort:
        ASSERT_LE(log.tokens.size(), expect.size());
        ASSERT_TRUE(std::equal(log.tokens.begin(), log.tokens.end(), expect.begin()))
            << "seed " << seed << " request " << r.id;
        totals.aborted += log.reason == FinishReason::kAbort ? 1 : 0;
        break;
      case FinishReason::kDeadline:
        ASSERT_TRUE(log.tokens.empty());
        ASSERT_TRUE(r.ttft_deadline_ms.has_value());
        ++totals.shed;
        break;
      default:
        FAIL() << "seed " << seed << " request " << r.id << " ended " << finish_reason_name(log.reason);
    }
  }
  const SchedulerStats s = h.scheduler->stats();
  totals.preemptions += s.num_preemptions;
  totals.hit_tokens += s.prefix_cache_hit_tokens;
}

TEST(SchedulerPropertyTest, RandomWorkloads) {
  Totals totals;
  for (std::uint64_t seed = 1; seed <= 600; ++seed) {
    run_workload(seed, totals);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The workloads really exercised what they are meant to.
  EXPECT_GT(totals.preemptions, 100);
  EXPECT_GT(totals.hit_tokens, 1000);
  EXPECT_GT(totals.finished_ok, 3000);
  EXPECT_GT(totals.aborted, 50);
  EXPECT_GT(totals.shed, 5);
  std::printf(
      "property totals: preemptions %lld, prefix hit tokens %lld, finished %lld, aborted %lld, shed %lld\n",
      static_cast<long long>(totals.preemptions), static_cast<long long>(totals.hit_tokens),
      static_cast<long long>(totals.finished_ok), static_cast<long long>(totals.aborted),
      static_cast<long long>(totals.shed));
}

}  // namespace
}  // namespace pagoda::testing
