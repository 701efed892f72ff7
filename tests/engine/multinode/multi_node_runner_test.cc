#include "engine/multinode/multi_node_model_runner.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "engine/cpu/cpu_model_runner.h"
#include "engine/multinode/node_mesh.h"
#include "engine/multinode/node_worker.h"
#include "tests/engine/cpu/model_driver.h"
#include "tests/engine/multinode/loopback_group.h"
#include "tests/engine/test_model.h"

namespace pagoda::multinode {
namespace {

using pagoda::testing::DriverSeq;
using pagoda::testing::kShapes;
using pagoda::testing::LoadedModel;
using pagoda::testing::make_model;
using pagoda::testing::ModelDriver;
using pagoda::testing::prompt_of;

cpu::CpuRunnerOptions runner_options(int tp) {
  cpu::CpuRunnerOptions o;
  o.tensor_parallel_size = tp;
  o.num_threads = tp;
  o.num_kv_blocks = 64;
  o.block_size = 4;
  o.keep_logits = true;
  return o;
}

NodeGroupOptions group_options(int nnodes, int rank, int port) {
  return testing::loopback_group_options(nnodes, rank, port, std::chrono::seconds(30));
}

// This node's CpuModelRunner: tp / nnodes ranks joined to the others by sockets.
StatusOr<std::unique_ptr<cpu::CpuModelRunner>> node_runner(const LoadedModel& m, int tp, NodeGroup& g) {
  PAGODA_ASSIGN_OR_RETURN(auto comms,
                          connect_node_mesh(g, tp / g.nnodes(), Clock::now() + std::chrono::seconds(30)));
  return cpu::CpuModelRunner::create(m.config, m.checkpoint, runner_options(tp), std::move(comms));
}

// A group of nnodes "nodes" in this process: workers on threads, the leader's runner returned.
struct TestGroup {
  std::unique_ptr<MultiNodeModelRunner> leader;
  cpu::CpuModelRunner* leader_local = nullptr;  // owned by leader
  std::vector<std::future<Status>> workers;     // each worker's run() result
};

TestGroup start_group(const LoadedModel& m, int tp, int nnodes) {
  TestGroup t;
  const int port = testing::free_port();
  for (int rank = 1; rank < nnodes; ++rank) {
    t.workers.push_back(std::async(std::launch::async, [&m, tp, nnodes, rank, port]() -> Status {
      PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<NodeGroup> g,
                              NodeGroup::create(group_options(nnodes, rank, port)));
      PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<cpu::CpuModelRunner> r, node_runner(m, tp, *g));
      NodeWorker worker(std::move(r), std::move(g));
      return worker.run();
    }));
  }
  StatusOr<std::unique_ptr<NodeGroup>> g = NodeGroup::create(group_options(nnodes, 0, port));
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  if (!g.ok()) return t;
  StatusOr<std::unique_ptr<cpu::CpuModelRunner>> r = node_runner(m, tp, **g);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return t;
  t.leader_local = r->get();
  t.leader = std::make_unique<MultiNodeModelRunner>(std::move(r).value(), std::move(g).value());
  return t;
}

// Staggered requests with chunked prefill; returns every request's greedy tokens.
std::vector<std::vector<std::int32_t>> drive(ModelRunner& runner, const LoadedModel& m) {
  ModelDriver d(runner, 3);
  std::vector<DriverSeq*> seqs;
  for (int i = 0; i < 3; ++i)
    seqs.push_back(&d.add(prompt_of(6 + 5 * i, m.config.vocab_size, i)));
  for (int step = 0; step < 40; ++step) {
    std::vector<std::pair<DriverSeq*, std::int32_t>> work;
    for (int i = 0; i < 3 && i <= step; ++i) {
      DriverSeq* s = seqs[static_cast<std::size_t>(i)];
      if (s->outputs.size() < 5) work.push_back({s, 4});
    }
    if (work.empty()) break;
    StatusOr<StepResult> r = d.step(work);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) break;
  }
  std::vector<std::vector<std::int32_t>> out;
  for (DriverSeq* s : seqs)
    out.emplace_back(s->tokens.begin() + s->num_prompt, s->tokens.end());
  return out;
}

// The same tensor-parallel group split over 2 processes' worth of nodes gives
// exactly what one process gives: same tokens, same logits bit for bit.
TEST(MultiNodeRunnerTest, SplitOverNodesEqualsOneProcessBitForBit) {
  struct Case {
    int shape, tp, nnodes;
  };
  for (Case c : {Case{1, 2, 2}, Case{0, 4, 2}, Case{3, 2, 2}}) {
    SCOPED_TRACE("shape " + std::to_string(c.shape) + " tp " + std::to_string(c.tp));
    LoadedModel m = make_model(kShapes[c.shape], "multinode");
    auto one = cpu::CpuModelRunner::create(m.config, m.checkpoint, runner_options(c.tp));
    ASSERT_TRUE(one.ok()) << one.status().to_string();
    const auto expected = drive(**one, m);
    const std::vector<float> expected_logits = (*one)->last_logits().at(0);

    TestGroup g = start_group(m, c.tp, c.nnodes);
    ASSERT_NE(g.leader, nullptr);
    EXPECT_EQ(g.leader->tensor_parallel_size(), c.tp);
    EXPECT_EQ(drive(*g.leader, m), expected);
    EXPECT_EQ(g.leader_local->last_logits().at(0), expected_logits);
    g.leader.reset();  // stops the workers
    for (auto& w : g.workers) {
      Status s = w.get();
      EXPECT_TRUE(s.ok()) << s.to_string();
    }
  }
}

// A plan the runners would refuse fails on the leader without reaching the
// workers, and the group keeps working.
TEST(MultiNodeRunnerTest, BadPlanIsRefusedBeforeTheWorkersSeeIt) {
  LoadedModel m = make_model(kShapes[1], "multinode");
  TestGroup g = start_group(m, 2, 2);
  ASSERT_NE(g.leader, nullptr);
  std::vector<std::int32_t> tokens = {1, 2, 3};
  std::vector<std::int32_t> blocks = {9999};  // out of range
  SamplingParams sp;
  StepPlan plan;
  ScheduledSequence s;
  s.token_ids = tokens;
  s.num_tokens = 3;
  s.block_table = blocks;
  s.sample = true;
  s.sampling = &sp;
  plan.sequences.push_back(s);
  plan.num_batched_tokens = 3;
  EXPECT_FALSE(g.leader->run(plan).ok());
  const auto tokens_after = drive(*g.leader, m);
  EXPECT_EQ(tokens_after[0].size(), 5u);
  g.leader.reset();
  for (auto& w : g.workers)
    EXPECT_TRUE(w.get().ok());
}

}  // namespace
}  // namespace pagoda::multinode
