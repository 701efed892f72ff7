// CUDA tensor parallelism across nodes (one process per node, as under
// LeaderWorkerSet; here the nodes are threads of this process on loopback):
// the leader makes the NCCL id, the nodes share it through their NodeGroup and
// join one communicator with ncclCommInitRank, each on its own GPU; the
// leader's MultiNodeModelRunner must give what the same ranks in one process
// give. Needs two devices.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "cuda/cuda_device.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/multinode/multi_node_model_runner.h"
#include "engine/multinode/node_worker.h"
#include "tests/engine/cpu/model_driver.h"
#include "tests/engine/cuda/two_node_runner.h"
#include "tests/engine/multinode/loopback_group.h"
#include "tests/engine/test_model.h"

namespace pagoda::cuda {
namespace {

using pagoda::cuda::testing::kTwoNodeTp;
using pagoda::cuda::testing::node_runner;
using pagoda::cuda::testing::two_node_group_options;
using pagoda::cuda::testing::two_node_options;
using pagoda::testing::DriverSeq;
using pagoda::testing::kShapes;
using pagoda::testing::LoadedModel;
using pagoda::testing::make_model;
using pagoda::testing::ModelDriver;
using pagoda::testing::prompt_of;

// Two prompts prefilled in chunks of 5, then decoded (eagerly and from graphs)
// to 6 tokens each; returns their tokens.
std::vector<std::vector<std::int32_t>> drive(ModelRunner& runner, int vocab) {
  ModelDriver d(runner, 7);
  DriverSeq& a = d.add(prompt_of(13, vocab, 31));
  DriverSeq& b = d.add(prompt_of(4, vocab, 32));
  while (a.outputs.size() < 6 || b.outputs.size() < 6) {
    std::vector<std::pair<DriverSeq*, std::int32_t>> work;
    if (a.outputs.size() < 6) work.emplace_back(&a, 5);
    if (b.outputs.size() < 6) work.emplace_back(&b, 5);
    StatusOr<StepResult> r = d.step(work);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) break;
  }
  std::vector<std::vector<std::int32_t>> out;
  for (const DriverSeq* s : {&a, &b})
    out.emplace_back(s->tokens.begin() + s->num_prompt, s->tokens.end());
  return out;
}

TEST(CudaMultiNodeTest, TwoNodesEqualOneProcessBitForBit) {
  if (list_devices().size() < kTwoNodeTp) GTEST_SKIP() << "needs two CUDA devices";
  LoadedModel m = make_model(kShapes[1], "cuda_multi_node");
  const int vocab = m.config.vocab_size;
  std::vector<std::vector<std::int32_t>> expected;
  std::vector<float> expected_logits;
  {
    auto one = CudaModelRunner::create(m.config, m.checkpoint, two_node_options());
    ASSERT_TRUE(one.ok()) << one.status().to_string();
    expected = drive(**one, vocab);
    expected_logits = (*one)->last_logits().at(0);
  }

  const int port = multinode::testing::free_port();
  std::future<Status> worker = std::async(std::launch::async, [&m, port]() -> Status {
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<multinode::NodeGroup> g,
                            multinode::NodeGroup::create(two_node_group_options(1, port)));
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<CudaModelRunner> r, node_runner(m, *g));
    multinode::NodeWorker node(std::move(r), std::move(g));
    return node.run();
  });
  auto group = multinode::NodeGroup::create(two_node_group_options(0, port));
  ASSERT_TRUE(group.ok()) << group.status().to_string();
  auto local = node_runner(m, **group);
  ASSERT_TRUE(local.ok()) << local.status().to_string();
  CudaModelRunner* leader_local = local->get();
  auto leader =
      std::make_unique<multinode::MultiNodeModelRunner>(std::move(local).value(), std::move(group).value());
  EXPECT_EQ(leader->tensor_parallel_size(), kTwoNodeTp);
  EXPECT_EQ(drive(*leader, vocab), expected);
  EXPECT_EQ(leader_local->last_logits().at(0), expected_logits);
  leader.reset();  // stops the worker
  const Status s = worker.get();
  EXPECT_TRUE(s.ok()) << s.to_string();
}

}  // namespace
}  // namespace pagoda::cuda
