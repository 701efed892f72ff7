// ModelRunner: runs one StepPlan through the model on some backend and samples
// the next tokens. It owns weights, KV memory and workspaces, and holds no
// scheduling policy: which sequences run, with how many tokens and which KV
// blocks, is decided by the caller. Used by the step thread only.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/model/model_config.h"
#include "scheduler/step_plan.h"

namespace pagoda {

// The KV cache a runner allocated, as the scheduler needs to know it.
struct KvCacheInfo {
  std::int32_t block_size = 16;      // tokens per block
  std::int32_t num_blocks = 0;       // usable blocks (ids 0..num_blocks-1)
  std::int64_t bytes_per_block = 0;  // all layers, K and V, on one rank
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  // Computes every sequence's new tokens (writing their K/V into the cache)
  // and samples one token for each sequence with `sample` set, in plan order.
  // Errors leave the KV cache contents of this step's slots undefined but
  // never touch other blocks.
  virtual StatusOr<StepResult> run(const StepPlan& plan) = 0;

  virtual const ModelConfig& config() const = 0;
  virtual KvCacheInfo kv_cache_info() const = 0;
  // "cpu" or "cuda", and the tensor-parallel size.
  virtual std::string backend_name() const = 0;
  virtual std::int32_t tensor_parallel_size() const = 0;
  // Whether the runner can still run steps (any thread). A multi-node group
  // that lost a node reports why it cannot; single-process runners always can.
  virtual Status health() const { return ok_status(); }
};

}  // namespace pagoda
