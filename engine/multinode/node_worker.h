// NodeWorker: a worker node of a multi-node tensor-parallel group. It runs the
// steps the leader sends on this node's ranks until the leader stops the group.
// Its runner samples with default greedy parameters and the result is dropped:
// only the leader's sampling counts. Runs on the thread that calls run().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "engine/model_runner.h"
#include "engine/multinode/node_group.h"

namespace pagoda::multinode {

class NodeWorker {
 public:
  NodeWorker(std::unique_ptr<ModelRunner> runner, std::unique_ptr<NodeGroup> group);

  // Returns ok when the leader stopped the group, an error when the leader was
  // lost, sent something malformed or a step failed here (the group is then
  // broken; the process should exit so that it can be recreated).
  Status run();
  std::uint64_t steps_run() const { return steps_.load(std::memory_order_relaxed); }
  const ModelRunner& runner() const { return *runner_; }
  int node_rank() const { return group_->node_rank(); }

 private:
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<NodeGroup> group_;
  std::atomic<std::uint64_t> steps_{0};  // written by run(), read by any thread
};

}  // namespace pagoda::multinode
