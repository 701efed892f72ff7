// MultiNodeModelRunner: the leader's ModelRunner when one tensor-parallel
// group spans several nodes. Each step it checks the plan, sends it to every
// worker node (NodeWorker runs it there) and runs its own ranks; the ranks of
// all nodes meet in the collectives. Only the leader samples. A lost node
// breaks the group: that step and every later one fail with UNAVAILABLE, since
// the remaining ranks cannot compute without it. Used by the step thread only.
#pragma once

#include <memory>
#include <mutex>

#include "engine/model_runner.h"
#include "engine/multinode/node_group.h"

namespace pagoda::multinode {

class MultiNodeModelRunner final : public ModelRunner {
 public:
  MultiNodeModelRunner(std::unique_ptr<ModelRunner> local, std::unique_ptr<NodeGroup> group);
  // Tells the workers to stop (they exit cleanly), then releases this node's ranks.
  ~MultiNodeModelRunner() override;

  StatusOr<StepResult> run(const StepPlan& plan) override;
  const ModelConfig& config() const override { return local_->config(); }
  KvCacheInfo kv_cache_info() const override { return local_->kv_cache_info(); }
  std::string backend_name() const override { return local_->backend_name(); }
  std::int32_t tensor_parallel_size() const override { return local_->tensor_parallel_size(); }
  // UNAVAILABLE once a node is lost (any thread).
  Status health() const override;
  int nnodes() const { return group_->nnodes(); }

 private:
  Status mark_broken(const Status& why);

  std::unique_ptr<ModelRunner> local_;
  std::unique_ptr<NodeGroup> group_;
  mutable std::mutex mutex_;
  Status broken_;  // guarded by mutex_; set once: why the group can no longer run steps
};

}  // namespace pagoda::multinode
