// Scheduler behaviour one feature at a time: admission control, abort and
// finish timing, stop conditions, prefix-cache hits, deadlines, fairness.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/scheduler/scheduler_harness.h"

namespace pagoda::testing {
namespace {

SchedulerConfig config(std::int32_t num_blocks = 64, std::int32_t block_size = 4) {
  SchedulerConfig c;
  c.block_size = block_size;
  c.num_blocks = num_blocks;
  c.max_num_batched_tokens = 64;
  c.max_num_seqs = 8;
  c.max_model_len = 128;
  return c;
}

using H = SchedulerHarness;

TEST(SchedulerConfigTest, Validates) {
  EXPECT_TRUE(config().validate().ok());
  SchedulerConfig c = config();
  c.num_blocks = 0;
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Scheduler::create(c).ok());
  c = config();
  c.max_num_batched_tokens = 0;
  EXPECT_NE(c.validate().message().find("max_num_batched_tokens"), std::string::npos);
}

TEST(SchedulerSubmitTest, RefusesWhatCanNeverFit) {
  H h(config(8));
  Status s = h.scheduler->submit(H::make(1, {}, 4));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("empty"), std::string::npos);
  s = h.scheduler->submit(H::make(2, H::tokens(100), 29));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("exceeds max_model_len (128)"), std::string::npos) << s.message();
  // 8 blocks of 4 = 32 slots; prompt 30 + max_tokens 4 needs 33 - 1 = 33 slots -> 9 blocks.
  s = h.scheduler->submit(H::make(3, H::tokens(30), 4));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("KV blocks"), std::string::npos) << s.message();
  EXPECT_TRUE(h.scheduler->submit(H::make(4, H::tokens(30), 3)).ok());  // exactly 32 slots
  EXPECT_EQ(h.scheduler->submit(H::make(4, H::tokens(3), 3)).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(h.scheduler->stats().num_rejected, 4);
  h.run_to_completion();
  EXPECT_EQ(h.logs[4].tokens.size(), 3u);
}

TEST(SchedulerSubmitTest, QueueLimits) {
  SchedulerConfig c = config();
  c.max_queued_requests = 2;
  c.max_queued_prompt_tokens = 10;
  H h(c);
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(4), 2)).ok());
  ASSERT_TRUE(h.scheduler->submit(H::make(2, H::tokens(4), 2)).ok());
  Status s = h.scheduler->submit(H::make(3, H::tokens(1), 2));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("max_queued_requests"), std::string::npos) << s.message();
  h.step();  // both admitted: the queue is empty again
  ASSERT_TRUE(h.scheduler->submit(H::make(3, H::tokens(8), 2)).ok());
  s = h.scheduler->submit(H::make(5, H::tokens(3), 2));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("max_queued_prompt_tokens"), std::string::npos) << s.message();
  h.run_to_completion();
  EXPECT_EQ(h.logs.size(), 3u);
}

TEST(SchedulerAbortTest, WaitingRunningAndInFlight) {
  SchedulerConfig c = config();
  c.max_num_seqs = 2;
  H h(c);
  for (RequestId id = 1; id <= 3; ++id)
    ASSERT_TRUE(h.scheduler->submit(H::make(id, H::tokens(4), 8, id)).ok());
  h.step();  // 1 and 2 running, 3 waiting
  // Waiting: gone at once, final event with the next update().
  ASSERT_TRUE(h.scheduler->abort(3).ok());
  EXPECT_EQ(h.scheduler->find(3), nullptr);
  EXPECT_EQ(h.scheduler->abort(3).code(), StatusCode::kNotFound);
  // Running, between steps: blocks freed at once.
  const std::int32_t used = h.scheduler->allocator().num_used_blocks();
  ASSERT_TRUE(h.scheduler->abort(1).ok());
  EXPECT_LT(h.scheduler->allocator().num_used_blocks(), used);
  // In flight: deferred to update(); its token of that step is dropped.
  const StepPlan& plan = h.scheduler->schedule();
  ASSERT_EQ(plan.sequences.size(), 1u);
  auto result = h.runner_.run(plan);
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(h.scheduler->abort(2).ok());
  EXPECT_NE(h.scheduler->find(2), nullptr);
  EXPECT_EQ(h.scheduler->abort(2).code(), StatusCode::kNotFound);
  h.record(h.scheduler->update(*result));
  EXPECT_FALSE(h.scheduler->has_unfinished());
  EXPECT_EQ(h.scheduler->allocator().num_free_blocks(), c.num_blocks);
  for (RequestId id = 1; id <= 3; ++id) {
    EXPECT_EQ(h.logs[id].num_final_events, 1) << id;
    EXPECT_EQ(h.logs[id].reason, FinishReason::kAbort);
  }
  EXPECT_EQ(h.logs[2].tokens.size(), 1u);  // the dropped token never surfaced
  EXPECT_EQ(h.scheduler->stats().num_aborted, 3);
}

TEST(SchedulerAbortTest, EmptyStepFlushesEvents) {
  H h(config());
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(4), 8)).ok());
  ASSERT_TRUE(h.scheduler->abort(1).ok());
  const StepPlan& plan = h.scheduler->schedule();
  EXPECT_TRUE(plan.sequences.empty());
  StepResult empty;
  empty.step_id = plan.step_id;
  const auto& events = h.scheduler->update(empty);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].finished);
  EXPECT_EQ(events[0].finish_reason, FinishReason::kAbort);
}

TEST(SchedulerFinishTest, StopStringFinishFromEngine) {
  H h(config());
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(4), 20)).ok());
  h.step();
  h.step();
  EXPECT_EQ(h.scheduler->finish(1, FinishReason::kNone).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(h.scheduler->finish(1, FinishReason::kStop).ok());
  h.step();
  EXPECT_EQ(h.logs[1].reason, FinishReason::kStop);
  EXPECT_EQ(h.logs[1].tokens.size(), 2u);
  EXPECT_EQ(h.logs[1].num_final_events, 1);
}

TEST(SchedulerStopTest, EosStopIdsMinTokensIgnoreEos) {
  // A vocabulary of 4 makes stop tokens frequent.
  constexpr std::int32_t kVocab = 4;
  for (int variant = 0; variant < 4; ++variant) {
    SchedulerConfig c = config();
    c.eos_token_ids = {0};
    H h(c, kVocab);
    std::vector<NewRequest> reqs;
    for (RequestId id = 1; id <= 16; ++id) {
      NewRequest r = H::make(id, H::tokens(5, static_cast<std::int32_t>(id)), 12, id * 31 + variant);
      r.sampling.ignore_eos = variant == 1;
      r.sampling.min_tokens = variant == 2 ? 6 : 0;
      if (variant == 3) r.sampling.stop_token_ids = {3};
      reqs.push_back(r);
      ASSERT_TRUE(h.scheduler->submit(r).ok());
    }
    h.run_to_completion();
    for (const NewRequest& r : reqs) {
      std::vector<std::int32_t> stops;
      if (!r.sampling.ignore_eos) stops.push_back(0);
      stops.insert(stops.end(), r.sampling.stop_token_ids.begin(), r.sampling.stop_token_ids.end());
      const auto expect = h.reference(r, stops);
      const RequestLog& log = h.logs[r.id];
      EXPECT_EQ(log.tokens, expect) << "variant " << variant << " request " << r.id;
      const bool stopped = static_cast<std::int32_t>(expect.size()) < 12 ||
                           std::find(stops.begin(), stops.end(), expect.back()) != stops.end();
      EXPECT_EQ(log.reason, stopped ? FinishReason::kStop : FinishReason::kLength);
    }
  }
}

TEST(SchedulerPrefixCacheTest, SharedPrefixHitsAndFullyCachedRecomputesLast) {
  H h(config(64, 4));
  // 10 tokens: 2 full blocks cacheable.
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(10), 2)).ok());
  h.run_to_completion();
  // Same first 8 tokens, different tail: 8 tokens hit.
  std::vector<std::int32_t> p2 = H::tokens(10);
  p2[9] = 7;
  ASSERT_TRUE(h.scheduler->submit(H::make(2, p2, 2)).ok());
  auto ran = h.step();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].second, 2);  // only the uncached tail
  EXPECT_EQ(h.scheduler->find(2)->num_cached_prompt_tokens(), 8);
  h.run_to_completion();
  // A 12-token prompt (3 full blocks) fully cached by request 3's first run: the
  // second copy reuses 2 blocks and recomputes the last block (at least one token).
  ASSERT_TRUE(h.scheduler->submit(H::make(3, H::tokens(12, 500), 1)).ok());
  h.run_to_completion();
  ASSERT_TRUE(h.scheduler->submit(H::make(4, H::tokens(12, 500), 1)).ok());
  ran = h.step();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].second, 4);
  h.run_to_completion();
  const SchedulerStats s = h.scheduler->stats();
  EXPECT_EQ(s.prefix_cache_query_tokens, 10 + 10 + 12 + 12);
  EXPECT_EQ(s.prefix_cache_hit_tokens, 8 + 8);
  // Same seeds and prompts give the same outputs with or without hits.
  EXPECT_EQ(h.logs[3].tokens, h.logs[4].tokens);
  EXPECT_EQ(h.scheduler->allocator().num_free_blocks(), 64);
  EXPECT_GT(h.scheduler->allocator().num_cached_blocks(), 0);
}

TEST(SchedulerPrefixCacheTest, ConcurrentSharersAndSwitchOff) {
  for (bool enabled : {true, false}) {
    SchedulerConfig c = config(64, 4);
    c.enable_prefix_caching = enabled;
    H h(c);
    ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(17), 6, 1)).ok());
    h.step();
    // Arrive while 1 still runs: share its 4 full prompt blocks.
    std::vector<NewRequest> reqs;
    for (RequestId id = 2; id <= 4; ++id) {
      reqs.push_back(H::make(id, H::tokens(17), 6, id));
      ASSERT_TRUE(h.scheduler->submit(reqs.back()).ok());
    }
    h.step();
    if (enabled) {
      EXPECT_EQ(h.scheduler->allocator().ref_count(h.scheduler->find(1)->block_table()[0]), 4);
    }
    h.run_to_completion();
    for (const NewRequest& r : reqs)
      EXPECT_EQ(h.logs[r.id].tokens, h.reference(r));
    EXPECT_EQ(h.scheduler->stats().prefix_cache_hit_tokens, enabled ? 3 * 16 : 0);
    EXPECT_EQ(h.scheduler->allocator().num_cached_blocks() > 0, enabled);
  }
}

TEST(SchedulerDeadlineTest, ShedWhileQueued) {
  SchedulerConfig c = config();
  c.max_num_seqs = 1;
  c.deadline_policy = DeadlinePolicy::kShed;
  H h(c);
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(4), 5)).ok());
  NewRequest late = H::make(2, H::tokens(4), 2);
  late.ttft_deadline_ms = 10.0;
  ASSERT_TRUE(h.scheduler->submit(late).ok());
  NewRequest patient = H::make(3, H::tokens(4), 2);
  patient.ttft_deadline_ms = 1000.0;
  ASSERT_TRUE(h.scheduler->submit(patient).ok());
  h.step();
  h.now_ms = 20.0;  // request 2 has not started and its deadline passed
  h.step();
  EXPECT_EQ(h.logs[2].reason, FinishReason::kDeadline);
  EXPECT_TRUE(h.logs[2].tokens.empty());
  h.run_to_completion();
  EXPECT_EQ(h.logs[3].reason, FinishReason::kLength);
  EXPECT_EQ(h.scheduler->stats().num_shed, 1);
}

TEST(SchedulerDeadlineTest, RejectAtSubmitWithStepTimeEstimate) {
  for (DeadlinePolicy policy : {DeadlinePolicy::kIgnore, DeadlinePolicy::kReject}) {
    SchedulerConfig c = config();
    c.max_num_batched_tokens = 16;
    c.initial_step_time_ms = 10.0;
    c.deadline_policy = policy;
    H h(c);
    NewRequest r = H::make(1, H::tokens(40), 2);  // 3 steps of prefill = 30 ms at least
    r.ttft_deadline_ms = 25.0;
    const Status s = h.scheduler->submit(r);
    if (policy == DeadlinePolicy::kReject) {
      EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
      EXPECT_NE(s.message().find("deadline"), std::string::npos);
      r.ttft_deadline_ms = 35.0;
      EXPECT_TRUE(h.scheduler->submit(r).ok());
    } else {
      EXPECT_TRUE(s.ok());
    }
    // kReject never sheds a queued request: it is served late.
    h.now_ms = 1000.0;
    h.run_to_completion();
    EXPECT_EQ(h.logs[1].reason, FinishReason::kLength);
  }
}

TEST(SchedulerFairnessTest, BurstDoesNotStarveOtherTenant) {
  SchedulerConfig c = config(256);
  c.max_num_seqs = 1;  // one at a time: admission order is the whole story
  H h(c);
  RequestId id = 1;
  for (int i = 0; i < 20; ++i) {
    NewRequest r = H::make(id++, H::tokens(8), 4);
    r.tenant = "burst";
    ASSERT_TRUE(h.scheduler->submit(r).ok());
  }
  h.step();
  h.now_ms = 1.0;
  for (int i = 0; i < 4; ++i) {
    NewRequest r = H::make(id++, H::tokens(8), 4);
    r.tenant = "quiet";
    ASSERT_TRUE(h.scheduler->submit(r).ok());
  }
  std::vector<std::string> order;
  std::set<RequestId> started;
  for (int s = 0; s < 200 && h.scheduler->has_unfinished(); ++s) {
    const StepPlan& plan = h.scheduler->schedule();
    for (const ScheduledSequence& seq : plan.sequences) {
      if (started.insert(seq.request_id).second) order.push_back(h.scheduler->find(seq.request_id)->tenant());
    }
    auto result = h.runner_.run(plan);
    ASSERT_TRUE(result.ok());
    h.record(h.scheduler->update(*result));
  }
  // Plain FCFS would run all 20 "burst" requests first. With VTC the quiet
  // tenant (lifted to the burst tenant's counter on arrival) alternates.
  int quiet_in_first_10 = 0;
  for (std::size_t i = 0; i < 10 && i < order.size(); ++i)
    quiet_in_first_10 += order[i] == "quiet" ? 1 : 0;
  EXPECT_EQ(quiet_in_first_10, 4);
  EXPECT_FALSE(h.scheduler->has_unfinished());
}

TEST(SchedulerFairnessTest, PriorityBeatsFairness) {
  SchedulerConfig c = config(256);
  c.max_num_seqs = 1;
  H h(c);
  NewRequest a = H::make(1, H::tokens(8), 2);
  a.tenant = "a";
  a.priority = 1;
  NewRequest b = H::make(2, H::tokens(8), 2);
  b.tenant = "b";
  b.priority = 0;
  ASSERT_TRUE(h.scheduler->submit(a).ok());
  h.now_ms = 1;
  ASSERT_TRUE(h.scheduler->submit(b).ok());
  const auto ran = h.step();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].first, 2u);
}

TEST(SchedulerFailTest, FailStepEndsPlannedRequestsWithError) {
  H h(config());
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(4), 8)).ok());
  h.step();
  ASSERT_TRUE(h.scheduler->submit(H::make(2, H::tokens(4), 8)).ok());
  (void)h.scheduler->schedule();
  h.record(h.scheduler->fail_step());
  EXPECT_EQ(h.logs[1].reason, FinishReason::kError);
  EXPECT_EQ(h.logs[2].reason, FinishReason::kError);
  EXPECT_FALSE(h.scheduler->has_unfinished());
  EXPECT_EQ(h.scheduler->allocator().num_free_blocks(), 64);
}

TEST(SchedulerFailTest, MissingSampleAndWrongStepId) {
  H h(config());
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(4), 8)).ok());
  ASSERT_TRUE(h.scheduler->submit(H::make(2, H::tokens(4), 8)).ok());
  const StepPlan& plan = h.scheduler->schedule();
  auto result = h.runner_.run(plan);
  ASSERT_TRUE(result.ok());
  result->sampled.erase(result->sampled.begin());  // request 1's token is missing
  h.record(h.scheduler->update(*result));
  EXPECT_EQ(h.logs[1].reason, FinishReason::kError);
  EXPECT_FALSE(h.logs[2].finished);
  const StepPlan& plan2 = h.scheduler->schedule();
  auto result2 = h.runner_.run(plan2);
  ASSERT_TRUE(result2.ok());
  result2->step_id += 100;
  h.record(h.scheduler->update(*result2));
  EXPECT_EQ(h.logs[2].reason, FinishReason::kError);
  EXPECT_TRUE(h.scheduler->check_invariants().ok());
}

TEST(SchedulerTest, AbandonedPlanIsPlannedAgain) {
  H h(config());
  ASSERT_TRUE(h.scheduler->submit(H::make(1, H::tokens(6), 3)).ok());
  (void)h.scheduler->schedule();  // never run
  h.run_to_completion();
  EXPECT_EQ(h.logs[1].tokens, h.reference(H::make(1, H::tokens(6), 3)));
}

}  // namespace
}  // namespace pagoda::testing
