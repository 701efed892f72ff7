// Checks a StepPlan against a runner's model and KV cache before any backend
// touches memory: token ranges, positions, block tables, token ids, sampling
// only at a sequence's end. Shared by every ModelRunner. Pure; any thread.
#pragma once

#include "base/status.h"
#include "engine/model/model_config.h"
#include "engine/model_runner.h"
#include "scheduler/step_plan.h"

namespace pagoda {

// invalid_argument for what a client could cause (a token id outside the
// vocabulary, a position past max_position_embeddings); internal for plans
// the scheduler should never build.
Status validate_step_plan(const StepPlan& plan, const ModelConfig& config, const KvCacheInfo& kv);

}  // namespace pagoda
