// Table-driven scheduler tests (after TensorRT-LLM's): each case lists which
// requests arrive before which step, and for every step exactly which requests
// run with how many tokens, in plan order.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/scheduler/scheduler_harness.h"

namespace pagoda::testing {
namespace {

using Ran = SchedulerHarness::Ran;

struct Arrival {
  int before_step;  // 1-based step it is submitted before
  NewRequest request;
};

struct TableCase {
  std::string name;
  SchedulerConfig config;
  std::vector<Arrival> arrivals;
  std::vector<Ran> steps;  // expected, in order; the run must end with them
};

SchedulerConfig small_config(std::int32_t block_size, std::int32_t num_blocks, std::int32_t budget,
                             std::int32_t max_seqs) {
  SchedulerConfig c;
  c.block_size = block_size;
  c.num_blocks = num_blocks;
  c.max_num_batched_tokens = budget;
  c.max_num_seqs = max_seqs;
  c.max_model_len = 1024;
  return c;
}

NewRequest req(RequestId id, std::int32_t prompt_len, std::int32_t max_tokens, std::int32_t first_token = 100,
               std::int32_t priority = 0) {
  NewRequest r =
      SchedulerHarness::make(id, SchedulerHarness::tokens(prompt_len, first_token), max_tokens, id);
  r.priority = priority;
  return r;
}

std::string show(const Ran& ran) {
  std::ostringstream s;
  s << "{";
  for (const auto& [id, n] : ran)
    s << " " << id << ":" << n;
  s << " }";
  return s.str();
}

std::vector<TableCase> cases() {
  std::vector<TableCase> c;
  {
    // Chunked prefill: 8-token budget splits the 10-token prompt; the second
    // prompt is admitted with what is left after the first one's last chunk.
    TableCase t{"chunked_prefill", small_config(4, 64, 8, 4), {}, {}};
    t.config.enable_prefix_caching = false;
    t.arrivals = {{1, req(1, 10, 3)}, {1, req(2, 6, 2, 500)}};
    t.steps = {{{1, 8}}, {{1, 2}, {2, 6}}, {{1, 1}, {2, 1}}, {{1, 1}}};
    c.push_back(std::move(t));
  }
  {
    // max_num_seqs = 2 holds the third request back until a slot frees.
    TableCase t{"max_num_seqs", small_config(4, 64, 100, 2), {}, {}};
    t.arrivals = {{1, req(1, 4, 2)}, {1, req(2, 4, 2, 200)}, {1, req(3, 4, 2, 300)}};
    t.steps = {{{1, 4}, {2, 4}}, {{1, 1}, {2, 1}}, {{3, 4}}, {{3, 1}}};
    c.push_back(std::move(t));
  }
  {
    // long_prefill_token_threshold = 4: a long prompt advances 4 tokens per
    // step; running decodes go first.
    TableCase t{"long_prefill_threshold", small_config(4, 64, 16, 4), {}, {}};
    t.config.long_prefill_token_threshold = 4;
    t.arrivals = {{1, req(1, 10, 2)}, {1, req(2, 3, 2, 500)}};
    t.steps = {{{1, 4}, {2, 3}}, {{2, 1}, {1, 4}}, {{1, 2}}, {{1, 1}}};
    c.push_back(std::move(t));
  }
  {
    // Preemption by recompute: 6 blocks of 4 tokens. At step 6 request 1 needs
    // its fourth block; request 2 (later arrival) is preempted, waits
    // until 1 is done, and comes back with a 1-block prefix-cache hit (its
    // other cached blocks were evicted for request 1's growth).
    TableCase t{"preempt_recompute", small_config(4, 6, 16, 4), {}, {}};
    t.arrivals = {{1, req(1, 8, 10)}, {1, req(2, 8, 10, 200)}};
    const Ran both = {{1, 1}, {2, 1}};
    const Ran one = {{1, 1}};
    const Ran two = {{2, 1}};
    t.steps = {{{1, 8}, {2, 8}}, both, both, both, both, one, one, one, one, one,
               {{2, 9}},         two,  two,  two,  two};
    c.push_back(std::move(t));
  }
  {
    // Priorities: 3 (priority 0) arrives after 2 (priority 1) but runs first.
    TableCase t{"priority", small_config(4, 64, 100, 1), {}, {}};
    t.arrivals = {{1, req(1, 4, 2, 100, 1)}, {2, req(2, 4, 2, 200, 1)}, {2, req(3, 4, 2, 300, 0)}};
    t.steps = {{{1, 4}}, {{1, 1}}, {{3, 4}}, {{3, 1}}, {{2, 4}}, {{2, 1}}};
    c.push_back(std::move(t));
  }
  {
    // Running decodes take the whole 2-token budget: a new request waits
    // until they finish (running work before admission).
    TableCase t{"decodes_fill_budget", small_config(4, 64, 2, 4), {}, {}};
    t.arrivals = {{1, req(1, 1, 3)}, {1, req(2, 1, 3, 200)}, {2, req(3, 1, 2, 300)}};
    t.steps = {{{1, 1}, {2, 1}}, {{1, 1}, {2, 1}}, {{1, 1}, {2, 1}}, {{3, 1}}, {{3, 1}}};
    c.push_back(std::move(t));
  }
  return c;
}

void PrintTo(const TableCase& t, std::ostream* os) {
  *os << t.name;
}

class SchedulerTableTest : public ::testing::TestWithParam<TableCase> {};

TEST_P(SchedulerTableTest, StepsMatchTable) {
  const TableCase& t = GetParam();
  SchedulerHarness h(t.config);
  std::vector<NewRequest> submitted;
  for (std::size_t step = 1; step <= t.steps.size() + 1; ++step) {
    for (const Arrival& a : t.arrivals) {
      if (a.before_step == static_cast<int>(step)) {
        h.now_ms += 1.0;
        ASSERT_TRUE(h.scheduler->submit(a.request).ok());
        submitted.push_back(a.request);
      }
    }
    if (step > t.steps.size()) break;
    const Ran ran = h.step();
    ASSERT_EQ(show(ran), show(t.steps[step - 1])) << "step " << step;
  }
  EXPECT_FALSE(h.scheduler->has_unfinished());
  EXPECT_EQ(h.scheduler->allocator().num_free_blocks(), t.config.num_blocks);
  for (const NewRequest& r : submitted) {
    const RequestLog& log = h.logs[r.id];
    EXPECT_EQ(log.num_final_events, 1);
    EXPECT_EQ(log.tokens, h.reference(r)) << "request " << r.id;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SchedulerTableTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<TableCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(SchedulerTableExtraTest, PreemptionCountedAndPrefixHitOnResume) {
  SchedulerHarness h(small_config(4, 6, 16, 4));
  ASSERT_TRUE(h.scheduler->submit(req(1, 8, 10)).ok());
  ASSERT_TRUE(h.scheduler->submit(req(2, 8, 10, 200)).ok());
  h.run_to_completion();
  const SchedulerStats s = h.scheduler->stats();
  EXPECT_EQ(s.num_preemptions, 1);
  EXPECT_EQ(s.prefix_cache_query_tokens, 8 + 8 + 13);
  EXPECT_EQ(s.prefix_cache_hit_tokens, 4);
}

}  // namespace
}  // namespace pagoda::testing
