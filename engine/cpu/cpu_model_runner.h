// CpuModelRunner: the Qwen 3 forward pass on the CPU over a paged KV cache,
// with tensor parallelism across threads of this process (one thread per rank,
// collectives through CpuCommunicator). The backend that serves without a GPU
// and the oracle the CUDA backend is tested against. Driven by one thread (the
// step thread); rank threads are internal.
#pragma once

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "engine/communicator.h"
#include "engine/cpu/cpu_isa.h"
#include "engine/model/checkpoint.h"
#include "engine/model_runner.h"
#include "engine/sampler.h"

namespace pagoda::cpu {

struct CpuRunnerOptions {
  int tensor_parallel_size = 1;
  int num_threads = 0;                      // all ranks together; 0 = one per CPU
  int block_size = 16;                      // tokens per KV block
  std::int64_t kv_cache_bytes = 1ll << 30;  // all ranks together, when num_kv_blocks is 0
  int num_kv_blocks = 0;                    // exact block count (overrides kv_cache_bytes)
  bool keep_logits = false;  // keep each step's raw logits (before sampling) for last_logits(); tests only
};

class CpuRank;

class CpuModelRunner final : public ModelRunner {
 public:
  // Loads (maps) the checkpoint's weights for every rank and allocates the KV
  // cache. Errors name the shape that cannot be split or the budget too small.
  // Without `communicators` this process runs all tensor_parallel_size ranks,
  // joined by shared memory; with them (multi-node) it runs the consecutive
  // ranks they stand for, communicators[i] being local rank i's.
  static StatusOr<std::unique_ptr<CpuModelRunner>> create(
      const ModelConfig& config, std::shared_ptr<const Checkpoint> checkpoint,
      const CpuRunnerOptions& options, std::vector<std::unique_ptr<Communicator>> communicators = {});
  ~CpuModelRunner() override;

  StatusOr<StepResult> run(const StepPlan& plan) override;
  const ModelConfig& config() const override { return config_; }
  KvCacheInfo kv_cache_info() const override { return kv_info_; }
  std::string backend_name() const override { return "cpu"; }
  std::int32_t tensor_parallel_size() const override { return tensor_parallel_size_; }
  CpuIsa isa() const { return isa_; }
  // With keep_logits: the last step's raw logits, one row per sampled sequence, in plan order.
  const std::vector<std::vector<float>>& last_logits() const { return last_logits_; }

 private:
  CpuModelRunner(ModelConfig config, KvCacheInfo kv_info);
  void rank_thread_loop(int rank);

  ModelConfig config_;
  KvCacheInfo kv_info_;
  std::int32_t tensor_parallel_size_ = 1;  // all ranks, on every node
  CpuIsa isa_;
  Sampler sampler_;
  std::vector<std::unique_ptr<CpuRank>> ranks_;
  // Rank threads 1..tp-1 wait on start_, run the published plan, then meet at end_.
  std::vector<std::thread> rank_threads_;
  std::unique_ptr<std::barrier<>> start_;
  std::unique_ptr<std::barrier<>> end_;
  const StepPlan* current_plan_ = nullptr;  // published before start_, read by rank threads
  std::atomic<bool> stop_{false};
  bool keep_logits_ = false;
  std::vector<std::vector<float>> last_logits_;
};

}  // namespace pagoda::cpu
