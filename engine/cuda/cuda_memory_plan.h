// CudaMemoryPlan: how one GPU's memory is split between weights, step
// workspaces and KV-cache blocks, decided at start-up from the device's total
// and free memory. As in vLLM, the utilization is this process's own budget:
// total * utilization, less what the process already holds (NCCL buffers,
// cuBLASLt workspace), less weights and workspaces, goes to KV blocks; other
// processes' memory does not count against it (two servers at 0.45 share a
// GPU) but must leave the budget free. Pure arithmetic (no CUDA calls) so it
// is tested without a device. Start-up thread only.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace pagoda::cuda {

struct MemoryPlanInputs {
  std::int64_t total_bytes = 0;             // the device's memory
  std::int64_t free_bytes = 0;              // free now (after our CUDA context exists)
  std::int64_t in_use_at_start = 0;         // in use when this process first asked (other processes'
                                            // memory and our new CUDA context)
  double utilization = 0.9;                 // fraction of total this process may use
  std::int64_t weight_bytes = 0;            // this rank's weights
  std::int64_t workspace_bytes = 0;         // activations, attention and GEMM workspaces, logits
  std::int64_t kv_bytes_per_block = 0;      // K and V of one block, all layers, this rank
  std::int64_t kv_cache_bytes_limit = 0;    // optional cap on KV memory (0 = none)
  std::int32_t exact_num_blocks = 0;        // --num-kv-blocks (0 = as many as fit)
  std::int32_t block_size = 16;             // tokens per block
  std::int32_t max_model_len = 0;           // one sequence of this many tokens must fit
  std::int64_t total_weight_bytes_tp1 = 0;  // all weights unsharded, for "would fit with --tp N"
  int tensor_parallel_size = 1;
};

struct CudaMemoryPlan {
  MemoryPlanInputs in;
  std::int64_t kv_bytes = 0;
  std::int32_t num_kv_blocks = 0;

  // Several lines: each part in GiB, the blocks and the tokens they hold.
  std::string describe() const;
};

// Errors (resource_exhausted) say what does not fit and what would: the
// smallest --tp that fits the weights, or the largest max_model_len the KV
// blocks hold, or the utilization that would be needed.
StatusOr<CudaMemoryPlan> plan_device_memory(const MemoryPlanInputs& in);

}  // namespace pagoda::cuda
