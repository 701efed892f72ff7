// CudaModelRunner: the Qwen 3 forward pass on NVIDIA GPUs — cuBLASLt GEMMs,
// Pagoda's kernels, a paged KV cache in device memory — with tensor
// parallelism over NCCL, one thread per GPU (rank 0 runs on the caller's
// thread). Tokens are chosen on rank 0's device from the gathered logits
// (argmax for plain greedy steps, else the device sampler, which follows the
// host Sampler's rules); for a row the device sampler cannot take, the host
// Sampler samples from copied logits.
// A step that fails on one rank of a tensor-parallel group ends on every
// rank (none waits forever for a collective the failed rank never reached);
// the group is then broken: later steps fail and health() says why. So is a
// single GPU after a device fault (sticky: its context is lost).
// Driven by one thread (the step thread); rank threads are internal;
// health() may be called from any thread.
#pragma once

#include <atomic>
#include <barrier>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "engine/cpu/thread_pool.h"
#include "engine/cuda/cuda_memory_plan.h"
#include "engine/cuda/cuda_rank.h"
#include "engine/flat_step.h"
#include "engine/model/checkpoint.h"
#include "engine/model_runner.h"
#include "engine/sampler.h"

namespace pagoda::cuda {

struct CudaRunnerOptions {
  int tensor_parallel_size = 1;
  int first_device = 0;                 // ranks use devices first_device .. first_device + tp - 1
  double gpu_memory_utilization = 0.9;  // fraction of each GPU this process may use
  std::int64_t kv_cache_bytes = 0;      // cap on KV memory per GPU (0 = what the utilization leaves)
  int num_kv_blocks = 0;                // exact block count (overrides both)
  CudaStepLimits limits;                // largest step; sizes workspaces
  bool cuda_graphs = true;              // replay captured graphs for decode-only steps
  double graph_capture_budget_s = 60;   // start-up time for capturing; larger batches past it run
                                        // eagerly (0: no limit; multi-node groups capture every size)
  bool keep_logits = false;             // also copy each step's raw logits for last_logits(); tests only
  bool tune_gemms = true;               // at start-up, time each decode graph's GEMM shapes on our
                                        // kernels and cuBLASLt (its candidates too), keep the fastest
                                        // (GemmKernelChoice; later shapes, and all with false, take
                                        // the fixed rule and cuBLASLt's heuristic's first pick: the
                                        // same in every process, so two runners give the same bits)
  bool device_sampling = true;          // sample non-greedy rows on the device (false: on the host)
  bool programmatic_launch = false;     // compute capability 9.0+: kernels launch while the previous
                                        // one finishes (cuda/launch_order.h); off until timed on a GPU
  bool fused_decode = true;             // decode steps of up to 4 rows on one GPU: residual adds and
                                        // RMSNorms inside the skinny GEMMs (CudaKernelChoices)
  bool batch_invariant = false;         // a request's tokens and logits bit for bit the same whatever
                                        // else is in the batch (CudaKernelChoices)
  int batch_invariant_kv_split = 512;   // with it: attention splits of this many positions (a multiple
                                        // of 64; 0: none), the same bits whatever CTAs run them
  bool nccl_at_tp1 = false;             // tp 1 through a one-rank NCCL group: the collective path
                                        // (captured in graphs, logits gathered) on one GPU; tests
  double collective_timeout_s = 600;    // with a communicator: a rank still waiting for its step's
                                        // collectives after this long aborts the group (0: never)
  // Multi-node: this process runs ranks [first_rank, first_rank + num_local_ranks)
  // of tensor_parallel_size (0 = all), joined by ncclCommInitRank with the
  // leader's id; agree_num_kv_blocks returns the group's smallest block count.
  // Only the node holding rank 0 chooses tokens (the others' run() returns
  // no sampled tokens).
  int first_rank = 0;
  int num_local_ranks = 0;
  std::string nccl_unique_id;
  std::function<StatusOr<std::int32_t>(std::int32_t)> agree_num_kv_blocks;
  // Tests: GEMM kernel timings in place of the GPU's (CudaKernelChoices).
  std::function<double(GemmKernel, const GemmShape&)> gemm_timer = nullptr;
};

class CudaModelRunner final : public ModelRunner {
 public:
  // Plans memory on every GPU, uploads the weights and allocates the KV cache.
  // Errors name what does not fit and what would.
  [[nodiscard]] static StatusOr<std::unique_ptr<CudaModelRunner>> create(
      const ModelConfig& config, std::shared_ptr<const Checkpoint> checkpoint,
      const CudaRunnerOptions& options);
  ~CudaModelRunner() override;

  StatusOr<StepResult> run(const StepPlan& plan) override;
  const ModelConfig& config() const override { return config_; }
  KvCacheInfo kv_cache_info() const override { return kv_info_; }
  std::string backend_name() const override { return "cuda"; }
  std::int32_t tensor_parallel_size() const override { return tensor_parallel_size_; }
  // Not ok once a step failed on a rank of a group or faulted the GPU (see
  // above); why.
  Status health() const override;
  // Rank 0's memory plan (every rank gets the same number of blocks).
  const CudaMemoryPlan& memory_plan() const { return plan_; }
  // Batch sizes captured as CUDA graphs, how long capturing took, and a line
  // saying so for the start-up log (with the budget, and what it cut).
  std::size_t num_graphs() const { return ranks_.empty() ? 0 : ranks_[0]->num_graphs(); }
  double graph_capture_seconds() const { return graph_capture_s_; }
  // Rank 0's GEMM timings (shapes whose kernel, or cuBLASLt algorithm, was
  // chosen by timing): all made at start-up, in the warm-ups before capture.
  std::size_t num_gemm_timings() const { return ranks_.empty() ? 0 : ranks_[0]->num_gemm_timings(); }
  std::string describe_graphs() const;
  // Rank 0's device time of the last step (input copy to last kernel), ms.
  double last_step_device_ms() const { return ranks_.empty() ? 0.0 : ranks_[0]->last_device_ms(); }
  const std::vector<std::vector<float>>& last_logits() const { return last_logits_; }
  // Whether kernels launch programmatically: asked for (programmatic_launch)
  // and possible (compute capability 9.0+ running sm_90 code).
  bool programmatic_launches() const {
    return !ranks_.empty() && ranks_[0]->launch_order() == LaunchOrder::kProgrammatic;
  }

 private:
  CudaModelRunner(ModelConfig config, const CudaRunnerOptions& options);
  void rank_thread_loop(int rank);
  // Runs job(rank) for every local rank at once, rank 0 on this thread, and
  // returns the first failed rank's error. In a group, a failure aborts the
  // group (every rank's communicator) and marks the runner broken; on one
  // GPU, so does a failure that left the device faulted.
  Status run_on_ranks(const std::function<Status(int)>& job);
  // One rank's part of run_on_ranks: on a failure in a group, asks the
  // other ranks to stop waiting and abandons this rank's step at once (so
  // that peers on other nodes see the failure too).
  Status run_rank_job(int rank, const std::function<Status(int)>& job);
  // Sets why the runner cannot run steps again (the first reason stays).
  void mark_broken(const std::string& why);
  Status capture_graphs();
  CudaKernelChoices kernel_choices() const {
    CudaKernelChoices k;
    k.programmatic_launch = options_.programmatic_launch;
    k.fused_decode = options_.fused_decode;
    k.batch_invariant = options_.batch_invariant;
    k.invariant_kv_split = options_.batch_invariant_kv_split;
    k.tune_gemms = options_.tune_gemms;
    k.gemm_timer = options_.gemm_timer;
    return k;
  }
  Status forward_on_rank(int rank);

  ModelConfig config_;
  CudaRunnerOptions options_;
  KvCacheInfo kv_info_;
  std::int32_t tensor_parallel_size_ = 1;  // every node's ranks
  CudaMemoryPlan plan_;
  Sampler sampler_;
  cpu::ThreadPool sample_pool_;
  std::vector<std::unique_ptr<CudaRank>> ranks_;
  std::vector<int> devices_;
  // Rank threads 1..tp-1 wait on start_, run the published job, then meet at end_.
  std::vector<std::thread> rank_threads_;
  std::unique_ptr<std::barrier<>> start_;
  std::unique_ptr<std::barrier<>> end_;
  const std::function<Status(int)>* job_ = nullptr;     // published before start_, read by rank threads
  const FlatStep* current_step_ = nullptr;              // published with job_ by run()
  bool copy_logits_ = true;                             // published with current_step_
  const DeviceSampleBatch* device_sampling_ = nullptr;  // rank 0's, published with current_step_
  DeviceSampleBatch device_batch_;
  std::vector<std::int32_t> history_tables_;  // per sampled row: its block table's offset in the step's
  std::vector<Status> rank_status_;           // written by each rank before end_
  std::atomic<bool> stop_{false};
  std::stop_source group_failed_;           // requested when a rank of a group fails; read by every rank
  std::atomic<int> first_failed_rank_{-1};  // the local rank that requested group_failed_
  mutable std::mutex broken_mutex_;
  Status
      broken_;  // guarded by broken_mutex_; set once: by the first failed rank's thread, or the step thread
  std::vector<std::vector<float>> last_logits_;
  double graph_capture_s_ = 0.0;
  double graph_budget_s_ = 0.0;     // the capture budget applied (0: none)
  std::size_t num_graphs_cut_ = 0;  // sizes left to eager steps by the budget
};

}  // namespace pagoda::cuda
