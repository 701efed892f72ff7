#include "engine/multinode/multi_node_model_runner.h"

#include "engine/multinode/step_plan_codec.h"
#include "engine/step_plan_validation.h"

namespace pagoda::multinode {

MultiNodeModelRunner::MultiNodeModelRunner(std::unique_ptr<ModelRunner> local,
                                           std::unique_ptr<NodeGroup> group)
    : local_(std::move(local)), group_(std::move(group)) {}

MultiNodeModelRunner::~MultiNodeModelRunner() {
  if (health().ok()) (void)group_->send_to_workers(MessageType::kStop, "");
  local_.reset();
}

Status MultiNodeModelRunner::health() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

Status MultiNodeModelRunner::mark_broken(const Status& why) {
  std::lock_guard lock(mutex_);
  if (broken_.ok()) broken_ = unavailable("the multi-node group is broken: " + why.message());
  return broken_;
}

StatusOr<StepResult> MultiNodeModelRunner::run(const StepPlan& plan) {
  if (Status h = health(); !h.ok()) return h;
  if (plan.sequences.empty()) return local_->run(plan);
  // A plan the runners would refuse never reaches the workers, so every node
  // either runs a step or none does.
  PAGODA_RETURN_IF_ERROR(validate_step_plan(plan, local_->config(), local_->kv_cache_info()));
  Status sent = group_->send_to_workers(MessageType::kStep, encode_step_plan(plan));
  if (!sent.ok()) return mark_broken(sent);
  StatusOr<StepResult> result = local_->run(plan);
  // The workers ran (or are running) this step: on a failure here the group diverged.
  if (!result.ok()) return mark_broken(result.status());
  return result;
}

}  // namespace pagoda::multinode
