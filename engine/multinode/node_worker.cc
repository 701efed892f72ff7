#include "engine/multinode/node_worker.h"

#include "engine/multinode/step_plan_codec.h"

namespace pagoda::multinode {

NodeWorker::NodeWorker(std::unique_ptr<ModelRunner> runner, std::unique_ptr<NodeGroup> group)
    : runner_(std::move(runner)), group_(std::move(group)) {}

Status NodeWorker::run() {
  const auto max_positions = static_cast<std::int32_t>(runner_->config().max_position_embeddings);
  while (true) {
    PAGODA_ASSIGN_OR_RETURN(NodeMessage m, group_->receive_from_leader());
    if (m.type == MessageType::kStop) return ok_status();
    if (m.type != MessageType::kStep) return unavailable("node protocol: unexpected message from the leader");
    StatusOr<WireStepPlan> plan = decode_step_plan(m.payload, max_positions);
    if (!plan.ok()) return plan.status().with_context("step from the leader");
    StatusOr<StepResult> result = runner_->run(plan->plan);
    if (!result.ok()) return result.status().with_context("step " + std::to_string(plan->plan.step_id));
    steps_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace pagoda::multinode
