#include "engine/cuda/cuda_memory_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pagoda::cuda {
namespace {

std::string gib(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / static_cast<double>(1LL << 30));
  return buf;
}

}  // namespace

StatusOr<CudaMemoryPlan> plan_device_memory(const MemoryPlanInputs& in) {
  if (!(in.utilization > 0.0 && in.utilization <= 1.0)) {
    return invalid_argument("--gpu-memory-utilization must be in (0, 1], got " +
                            std::to_string(in.utilization));
  }
  if (in.kv_bytes_per_block <= 0 || in.block_size <= 0) return internal_error("memory plan: empty KV block");
  CudaMemoryPlan plan;
  plan.in = in;
  const auto budget = static_cast<std::int64_t>(static_cast<double>(in.total_bytes) * in.utilization);
  const std::int64_t free_at_start = in.total_bytes - in.in_use_at_start;
  if (budget > free_at_start && in.exact_num_blocks == 0) {  // (an exact count needs only to fit)
    const double most = static_cast<double>(free_at_start) / static_cast<double>(in.total_bytes);
    return resource_exhausted("--gpu-memory-utilization " + std::to_string(in.utilization).substr(0, 4) +
                              " asks for " + gib(budget) + " of this GPU's " + gib(in.total_bytes) +
                              ", but only " + gib(free_at_start) + " was free at start (" +
                              gib(in.in_use_at_start) +
                              " in use by other processes and this one's CUDA context); use at most " +
                              std::to_string(std::floor(most * 100) / 100).substr(0, 4) + " or free the GPU");
  }
  const std::int64_t held = std::max<std::int64_t>(0, in.total_bytes - in.free_bytes - in.in_use_at_start);
  const std::int64_t allowed = budget - held;
  const std::int64_t fixed = in.weight_bytes + in.workspace_bytes;
  if (fixed > allowed) {
    std::string msg = "the model does not fit: " + gib(in.weight_bytes) + " of weights and " +
                      gib(in.workspace_bytes) + " of workspaces per GPU, but only " +
                      gib(std::max<std::int64_t>(allowed, 0)) + " may be used (" + gib(in.total_bytes) +
                      " total x utilization " + std::to_string(in.utilization) + ", " + gib(held) +
                      " allocated since this process started: its NCCL buffers and cuBLASLt workspace, or "
                      "another process's allocations in the meantime)";
    const std::int64_t room = allowed - in.workspace_bytes;
    if (room > 0 && in.total_weight_bytes_tp1 > 0) {
      const auto tp = static_cast<std::int64_t>(
          std::ceil(static_cast<double>(in.total_weight_bytes_tp1) / static_cast<double>(room)));
      if (tp > in.tensor_parallel_size)
        msg += "; the weights would fit with --tp " + std::to_string(tp) + " or more";
    }
    msg += "; a smaller --max-num-batched-tokens shrinks the workspaces";
    return resource_exhausted(msg);
  }
  std::int64_t kv = allowed - fixed;
  if (in.kv_cache_bytes_limit > 0) kv = std::min(kv, in.kv_cache_bytes_limit);
  std::int64_t blocks = kv / in.kv_bytes_per_block;
  if (in.exact_num_blocks > 0) {
    const std::int64_t room = in.free_bytes - fixed;
    if (static_cast<std::int64_t>(in.exact_num_blocks) * in.kv_bytes_per_block > room) {
      return resource_exhausted(
          "--num-kv-blocks " + std::to_string(in.exact_num_blocks) + " needs " +
          gib(in.exact_num_blocks * in.kv_bytes_per_block) + " but " + gib(std::max<std::int64_t>(room, 0)) +
          " is free after weights and workspaces (" +
          std::to_string(std::max<std::int64_t>(room, 0) / in.kv_bytes_per_block) + " blocks would fit)");
    }
    blocks = in.exact_num_blocks;
  }
  blocks = std::min<std::int64_t>(blocks, 1 << 24);
  const std::int64_t tokens = blocks * in.block_size;
  if (blocks < 1 || tokens < in.max_model_len) {
    // What would make room: a shorter max_model_len (when a block fits at
    // all), then whatever bounded the cache.
    std::string advice;
    if (tokens > 0) advice = "--max-model-len " + std::to_string(tokens) + " or less, ";
    const bool capped = in.kv_cache_bytes_limit > 0 && kv == in.kv_cache_bytes_limit;
    advice += capped ? "a larger --kv-cache-bytes" : "a higher --gpu-memory-utilization";
    advice += ", or more GPUs with --tp";
    return resource_exhausted("the KV cache holds " + std::to_string(tokens) + " tokens (" +
                              std::to_string(blocks) + " blocks of " + std::to_string(in.block_size) + ", " +
                              gib(kv) + "), fewer than one sequence of max_model_len " +
                              std::to_string(in.max_model_len) + "; use " + advice);
  }
  plan.num_kv_blocks = static_cast<std::int32_t>(blocks);
  plan.kv_bytes = blocks * in.kv_bytes_per_block;
  return plan;
}

std::string CudaMemoryPlan::describe() const {
  const std::int64_t tokens = static_cast<std::int64_t>(num_kv_blocks) * in.block_size;
  std::string s;
  s += "device memory: " + gib(in.total_bytes) + " total, " + gib(in.total_bytes - in.in_use_at_start) +
       " free at start, utilization " + std::to_string(in.utilization).substr(0, 4) + "\n";
  s += "  weights     " + gib(in.weight_bytes) + "\n";
  s += "  workspaces  " + gib(in.workspace_bytes) + "\n";
  s += "  kv cache    " + gib(kv_bytes) + " = " + std::to_string(num_kv_blocks) + " blocks x " +
       std::to_string(in.block_size) + " tokens = " + std::to_string(tokens) + " tokens\n";
  return s;
}

}  // namespace pagoda::cuda
