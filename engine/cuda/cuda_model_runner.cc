#include "engine/cuda/cuda_model_runner.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>

#include "base/thread_name.h"
#include "cuda/cuda_status.h"
#include "cuda/prefill_attention_kernel.h"
#include "engine/step_plan_validation.h"

namespace pagoda::cuda {
namespace {

constexpr std::size_t kGemmWorkspaceBytes = 32u << 20;
constexpr char kGroupAborted[] =
    "the tensor-parallel group was aborted after a failed step (restart the server): ";

std::int64_t weight_bytes_unsharded(const ModelConfig& config) {
  StatusOr<cpu::RankShard> s = cpu::RankShard::make(config, 0, 1);
  return s.ok() ? CudaWeights::bytes_needed(config, *s) : 0;
}

}  // namespace

CudaModelRunner::CudaModelRunner(ModelConfig config, const CudaRunnerOptions& options)
    : config_(std::move(config)),
      options_(options),
      sampler_(config_.eos_token_ids),
      sample_pool_(static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u))) {}

StatusOr<std::unique_ptr<CudaModelRunner>> CudaModelRunner::create(
    const ModelConfig& config, std::shared_ptr<const Checkpoint> checkpoint, const CudaRunnerOptions& o) {
  const int tp = o.tensor_parallel_size;
  if (tp < 1 || tp > 64) return invalid_argument("--tp must be between 1 and 64, got " + std::to_string(tp));
  if (!(o.collective_timeout_s >= 0)) return invalid_argument("--collective-timeout must not be negative");
  const CudaStepLimits& lim = o.limits;
  if (lim.block_size < 1 || lim.block_size > 1024)
    return invalid_argument("--block-size must be in [1, 1024]");
  if (lim.max_tokens < 1 || lim.max_seqs < 1 || lim.max_model_len < 1)
    return invalid_argument("CUDA runner limits must be positive");
  const int num_local = o.num_local_ranks > 0 ? o.num_local_ranks : tp;
  if (o.first_rank < 0 || o.first_rank + num_local > tp)
    return invalid_argument("this node's ranks must lie within --tp " + std::to_string(tp));
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return failed_precondition("--device cuda: no CUDA device is visible to this process");
  }
  if (o.first_device < 0 || o.first_device + num_local > count) {
    return invalid_argument("--tp " + std::to_string(tp) + " needs " + std::to_string(num_local) +
                            " GPUs on this node from device " + std::to_string(o.first_device) +
                            "; this process sees " + std::to_string(count));
  }
  PAGODA_RETURN_IF_ERROR(checkpoint->validate(config));

  auto runner = std::unique_ptr<CudaModelRunner>(new CudaModelRunner(config, o));
  CudaModelRunner& r = *runner;
  std::vector<cpu::RankShard> shards;
  r.tensor_parallel_size_ = tp;
  for (int i = 0; i < num_local; ++i) {
    PAGODA_ASSIGN_OR_RETURN(cpu::RankShard s, cpu::RankShard::make(r.config_, o.first_rank + i, tp));
    shards.push_back(s);
    r.devices_.push_back(o.first_device + i);
  }
  if (o.batch_invariant_kv_split < 0 || o.batch_invariant_kv_split % kPrefillKvSplitUnit != 0) {
    return invalid_argument("the batch-invariant mode's KV split must be a multiple of " +
                            std::to_string(kPrefillKvSplitUnit) + " positions, not " +
                            std::to_string(o.batch_invariant_kv_split));
  }
  // launch_invariant_gemm reads x and w in 16-byte chunks along k.
  for (const cpu::RankShard& s : shards) {
    if (!o.batch_invariant) break;
    const std::int64_t attention_width = s.num_q_heads * config.head_dim;
    if (config.hidden_size % 8 != 0 || attention_width % 8 != 0 || s.inter_size % 8 != 0) {
      return invalid_argument(
          "--batch-invariant needs each rank's projection inputs in multiples of 8; at "
          "--tp " +
          std::to_string(tp) + " this model has hidden " + std::to_string(config.hidden_size) +
          ", attention " + std::to_string(attention_width) + " and intermediate " +
          std::to_string(s.inter_size) + " per rank");
    }
  }
  // What others hold on each GPU before this process allocates (its CUDA
  // context aside): --gpu-memory-utilization budgets this process alone.
  std::vector<std::int64_t> in_use_at_start;
  for (const int d : r.devices_) {
    PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(d));
    std::size_t free_bytes = 0, total_bytes = 0;
    PAGODA_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
    in_use_at_start.push_back(static_cast<std::int64_t>(total_bytes - free_bytes));
  }
  std::vector<std::unique_ptr<NcclCommunicator>> comms;
  if ((tp > 1 || o.nccl_at_tp1) && o.nccl_unique_id.empty()) {
    PAGODA_ASSIGN_OR_RETURN(comms, NcclCommunicator::create_group(r.devices_));
  } else if (tp > 1) {
    PAGODA_ASSIGN_OR_RETURN(comms,
                            NcclCommunicator::create_ranks(r.devices_, o.nccl_unique_id, o.first_rank, tp));
  }

  // NCCL sets up a collective's connections at its first use: run each at
  // the sizes a step uses now, so that the plan below counts their buffers.
  if (!comms.empty()) {
    const std::int64_t hidden = static_cast<std::int64_t>(lim.max_tokens) * config.hidden_size;
    std::int64_t reduce = hidden;
    std::int64_t gather = static_cast<std::int64_t>(lim.max_seqs) * shards[0].vocab_padded;  // logits
    if (o.batch_invariant && tp > 2) {  // sums in rank order: gathered, never all-reduced
      gather = std::max(gather, hidden);
      reduce = 0;
    }
    PAGODA_RETURN_IF_ERROR(NcclCommunicator::warm_up(comms, reduce, gather, o.collective_timeout_s));
  }

  // Plan every GPU after its context, cuBLASLt workspace and NCCL buffers exist.
  std::vector<std::unique_ptr<CublasLtGemm>> gemms;
  std::int32_t num_blocks = 0;
  for (int i = 0; i < num_local; ++i) {
    PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(r.devices_[static_cast<std::size_t>(i)]));
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<CublasLtGemm> g, CublasLtGemm::create(kGemmWorkspaceBytes));
    if (!o.tune_gemms) g->set_autotune_max_m(0);
    gemms.push_back(std::move(g));
    std::size_t free_bytes = 0, total_bytes = 0;
    PAGODA_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
    const cpu::RankShard& s = shards[static_cast<std::size_t>(i)];
    MemoryPlanInputs in;
    in.total_bytes = static_cast<std::int64_t>(total_bytes);
    in.free_bytes = static_cast<std::int64_t>(free_bytes);
    in.in_use_at_start = in_use_at_start[static_cast<std::size_t>(i)];
    in.utilization = o.gpu_memory_utilization;
    in.weight_bytes = CudaWeights::bytes_needed(r.config_, s);
    in.workspace_bytes = CudaRank::workspace_bytes(r.config_, s, lim, !comms.empty(), r.kernel_choices());
    in.kv_bytes_per_block = CudaRank::kv_bytes_per_block(r.config_, s, lim.block_size);
    in.kv_cache_bytes_limit = o.kv_cache_bytes;
    in.exact_num_blocks = o.num_kv_blocks;
    in.block_size = lim.block_size;
    in.max_model_len = lim.max_model_len;
    in.total_weight_bytes_tp1 = weight_bytes_unsharded(r.config_);
    in.tensor_parallel_size = tp;
    PAGODA_ASSIGN_OR_RETURN(CudaMemoryPlan plan, plan_device_memory(in));
    if (i == 0 || plan.num_kv_blocks < num_blocks) num_blocks = plan.num_kv_blocks;
    if (i == 0) r.plan_ = plan;
  }
  // Every node of a multi-node group must hold the same block ids.
  if (o.agree_num_kv_blocks) {
    PAGODA_ASSIGN_OR_RETURN(num_blocks, o.agree_num_kv_blocks(num_blocks));
  }
  // One planned block is the scratch block of padded graph rows (CudaRank).
  num_blocks -= 1;
  if (num_blocks < 1) return resource_exhausted("the KV cache holds no usable block");
  r.plan_.num_kv_blocks = num_blocks;
  r.plan_.kv_bytes = static_cast<std::int64_t>(num_blocks) * r.plan_.in.kv_bytes_per_block;
  r.kv_info_ = KvCacheInfo{lim.block_size, num_blocks, r.plan_.in.kv_bytes_per_block};

  for (int i = 0; i < num_local; ++i) {
    const cpu::RankShard& s = shards[static_cast<std::size_t>(i)];
    PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(r.devices_[static_cast<std::size_t>(i)]));
    PAGODA_ASSIGN_OR_RETURN(std::shared_ptr<const cpu::CpuWeights> host,
                            cpu::CpuWeights::create(r.config_, checkpoint, s));
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<CudaWeights> weights, CudaWeights::upload(r.config_, *host));
    std::unique_ptr<NcclCommunicator> comm =
        comms.empty() ? nullptr : std::move(comms[static_cast<std::size_t>(i)]);
    PAGODA_ASSIGN_OR_RETURN(
        std::unique_ptr<CudaRank> rank,
        CudaRank::create(r.config_, s, std::move(weights), std::move(gemms[static_cast<std::size_t>(i)]),
                         std::move(comm), lim, num_blocks, r.kernel_choices(),
                         CollectiveWait{r.group_failed_.get_token(), o.collective_timeout_s}));
    r.ranks_.push_back(std::move(rank));
  }
  r.rank_status_.resize(static_cast<std::size_t>(num_local));
  if (num_local > 1) {
    r.start_ = std::make_unique<std::barrier<>>(num_local);
    r.end_ = std::make_unique<std::barrier<>>(num_local);
    for (int i = 1; i < num_local; ++i)
      r.rank_threads_.emplace_back([p = runner.get(), i] {
        set_current_thread_name("pagoda-gpu" + std::to_string(i));
        p->rank_thread_loop(i);
      });
  }
  if (o.cuda_graphs) PAGODA_RETURN_IF_ERROR(r.capture_graphs());
  for (const auto& rank : r.ranks_)
    rank->stop_tuning_gemms();
  return runner;
}

CudaModelRunner::~CudaModelRunner() {
  if (!rank_threads_.empty()) {
    stop_.store(true, std::memory_order_release);
    start_->arrive_and_wait();
    for (auto& t : rank_threads_)
      t.join();
  }
  // Ranks free device memory: each on its own device.
  for (std::size_t i = 0; i < ranks_.size(); ++i) {
    cudaSetDevice(devices_[i]);
    ranks_[i].reset();
  }
}

// Every rank captures each size at once: the warm-up before each capture runs
// the collectives, which need the whole group (other nodes' ranks included,
// which capture the same sizes in the same order). The budget is checked
// between sizes on this thread, so every local rank stops at the same size;
// nodes could not agree on a clock, so a multi-node group captures them all.
Status CudaModelRunner::capture_graphs() {
  const auto t0 = std::chrono::steady_clock::now();
  const bool multi_node = options_.num_local_ranks > 0 && options_.num_local_ranks < tensor_parallel_size_;
  graph_budget_s_ = multi_node ? 0.0 : options_.graph_capture_budget_s;
  const std::vector<std::int64_t> sizes = ranks_[0]->decode_graph_sizes();
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::int64_t bs = sizes[i];
    const auto capture = [this, bs](int rank) -> Status {
      PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(devices_[static_cast<std::size_t>(rank)]));
      return ranks_[static_cast<std::size_t>(rank)]->capture_decode_graph(bs);
    };
    PAGODA_RETURN_IF_ERROR(
        run_on_ranks(capture).with_context("capturing the decode graph of batch " + std::to_string(bs)));
    graph_capture_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (graph_budget_s_ > 0 && graph_capture_s_ > graph_budget_s_) {
      num_graphs_cut_ = sizes.size() - i - 1;
      break;
    }
  }
  return ok_status();
}

std::string CudaModelRunner::describe_graphs() const {
  if (!options_.cuda_graphs) return "CUDA graphs off (--enforce-eager): every step runs eagerly";
  std::string s = std::to_string(num_graphs()) + " decode CUDA graphs (batch 1 to " +
                  std::to_string(ranks_.empty() ? 0 : ranks_[0]->largest_graph()) + ") captured in " +
                  std::to_string(static_cast<int>(graph_capture_s_ * 1000)) + " ms";
  if (graph_budget_s_ > 0) {
    s += " (budget " + std::to_string(static_cast<int>(graph_budget_s_)) + " s";
    if (num_graphs_cut_ > 0)
      s += "; spent: " + std::to_string(num_graphs_cut_) + " larger sizes left to eager steps";
    s += ")";
  } else if (options_.graph_capture_budget_s > 0) {
    s += " (every size: the nodes of a group share no clock for a budget)";
  }
  if (!ranks_.empty()) s += "; " + ranks_[0]->describe_gemm_choices();
  return s;
}

Status CudaModelRunner::forward_on_rank(int rank) {
  PAGODA_CUDA_RETURN_IF_ERROR(cudaSetDevice(devices_[static_cast<std::size_t>(rank)]));
  return ranks_[static_cast<std::size_t>(rank)]->forward(*current_step_, copy_logits_,
                                                         rank == 0 ? device_sampling_ : nullptr);
}

void CudaModelRunner::rank_thread_loop(int rank) {
  while (true) {
    start_->arrive_and_wait();
    if (stop_.load(std::memory_order_acquire)) return;
    rank_status_[static_cast<std::size_t>(rank)] = run_rank_job(rank, *job_);
    end_->arrive_and_wait();
  }
}

Status CudaModelRunner::run_rank_job(int rank, const std::function<Status(int)>& job) {
  const Status s = job(rank);
  CudaRank& r = *ranks_[static_cast<std::size_t>(rank)];
  if (s.ok() || !r.has_communicator()) return s;
  const Status failed = s.with_context("rank " + std::to_string(options_.first_rank + rank));
  if (group_failed_.request_stop()) {
    first_failed_rank_.store(rank, std::memory_order_relaxed);
    // At once, not after the step unwinds: health() tells the server even
    // if a peer's thread stays blocked in a call to CUDA or NCCL.
    mark_broken(kGroupAborted + failed.message());
  }
  cudaSetDevice(devices_[static_cast<std::size_t>(rank)]);
  r.abandon_step();
  return failed;
}

Status CudaModelRunner::run_on_ranks(const std::function<Status(int)>& job) {
  if (rank_threads_.empty()) {
    rank_status_[0] = run_rank_job(0, job);
  } else {
    job_ = &job;
    start_->arrive_and_wait();
    rank_status_[0] = run_rank_job(0, job);
    end_->arrive_and_wait();
    job_ = nullptr;
  }
  const Status* failed = nullptr;
  for (const Status& s : rank_status_) {
    if (!s.ok() && failed == nullptr) failed = &s;
  }
  if (failed == nullptr) return ok_status();
  // In a group, the failure to report is the one that started it, not a
  // peer's that gave up waiting for it or saw its abort.
  const int first = first_failed_rank_.load(std::memory_order_relaxed);
  if (first >= 0) failed = &rank_status_[static_cast<std::size_t>(first)];
  if (ranks_[0]->has_communicator()) {
    // Failed ranks abandoned their step in run_rank_job; ranks that finished
    // before the failure still hold live communicators.
    for (std::size_t i = 0; i < ranks_.size(); ++i) {
      if (!rank_status_[i].ok()) continue;
      cudaSetDevice(devices_[i]);
      ranks_[i]->abandon_step();
    }
    mark_broken(kGroupAborted + failed->message());
  } else {
    // One GPU: a device fault is sticky (the context is lost, every later
    // call fails with it); any other error fails this step alone.
    cudaSetDevice(devices_[0]);
    cudaGetLastError();
    if (const cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess) {
      mark_broken("GPU " + std::to_string(devices_[0]) + " faulted (" + cudaGetErrorName(e) +
                  ") and cannot run steps again (restart the server): " + failed->message());
    }
  }
  return *failed;
}

void CudaModelRunner::mark_broken(const std::string& why) {
  std::lock_guard<std::mutex> lock(broken_mutex_);
  if (broken_.ok()) broken_ = unavailable(why);
}

Status CudaModelRunner::health() const {
  std::lock_guard<std::mutex> lock(broken_mutex_);
  return broken_;
}

StatusOr<StepResult> CudaModelRunner::run(const StepPlan& plan) {
  PAGODA_RETURN_IF_ERROR(health());
  PAGODA_RETURN_IF_ERROR(validate_step_plan(plan, config_, kv_info_));
  StepResult result;
  result.step_id = plan.step_id;
  if (plan.sequences.empty()) return result;
  const auto start = std::chrono::steady_clock::now();
  PAGODA_ASSIGN_OR_RETURN(FlatStep step, flatten_step(plan, kv_info_.block_size));
  std::vector<const ScheduledSequence*> sampled;
  for (const ScheduledSequence& s : plan.sequences) {
    if (s.sample) sampled.push_back(&s);
  }
  // A worker node of a multi-node group computes; the leader's rank 0 samples.
  const bool samples = options_.first_rank == 0;
  if (!samples) sampled.clear();
  // Each sampled row's block table in the step's (they cover its history).
  history_tables_.clear();
  for (std::size_t i = 0; i < sampled.size(); ++i) {
    const std::int32_t row = step.sample_rows[i];
    history_tables_.push_back(step.block_table_offsets[static_cast<std::size_t>(row)]);
  }
  const SampleRouting routing =
      route_sampled_rows(sampled, history_tables_, options_.device_sampling, config_.eos_token_ids,
                         config_.vocab_size, CudaRank::kMaxSampleEdits, &device_batch_);
  current_step_ = &step;
  copy_logits_ = samples && (routing.any_host || options_.keep_logits);
  device_sampling_ = device_batch_.rows.empty() ? nullptr : &device_batch_;
  const Status forwarded = run_on_ranks([this](int rank) { return forward_on_rank(rank); });
  current_step_ = nullptr;
  device_sampling_ = nullptr;
  PAGODA_RETURN_IF_ERROR(forwarded);

  // Rows take the device argmax's or the device sampler's choice as routed;
  // the others sample on the host from rank 0's logits with the same Sampler
  // as the CPU backend (rows are independent).
  result.sampled.resize(sampled.size());
  const std::int32_t* ids = ranks_[0]->greedy_ids();  // (null on a worker node, which samples no row)
  const SampleRowOutput* device_out = ranks_[0]->sampled();
  float* logits = const_cast<float*>(ranks_[0]->logits());
  const std::int64_t stride = ranks_[0]->logits_stride();
  if (options_.keep_logits) {
    last_logits_.clear();
    for (std::size_t i = 0; i < sampled.size(); ++i) {
      const float* row = logits + static_cast<std::int64_t>(i) * stride;
      last_logits_.emplace_back(row, row + config_.vocab_size);
    }
  }
  const auto take = [&](std::int64_t i) {
    const ScheduledSequence& seq = *sampled[static_cast<std::size_t>(i)];
    SampledToken& out = result.sampled[static_cast<std::size_t>(i)];
    const std::int32_t d = routing.device_row[static_cast<std::size_t>(i)];
    if (routing.argmax_only) {
      out.request_id = seq.request_id;
      out.token_id = ids[i];
    } else if (d >= 0) {
      const SampleRowOutput& o = device_out[d];
      out.request_id = seq.request_id;
      out.token_id = o.token;
      if (seq.sampling->logprobs >= 0) {
        out.logprob = o.logprob;
        for (std::int32_t k = 0; k < o.num_top; ++k)
          out.top_logprobs.push_back({o.top_ids[k], o.top_logprobs[k]});
      }
    } else {
      out = sampler_.sample(seq, logits + i * stride, config_.vocab_size);
    }
  };
  // Only rows sampled here do real work (a pass over the vocabulary); taking
  // a device's choice is a copy, which waking the pool would cost more than.
  const auto num_sampled = static_cast<std::int64_t>(sampled.size());
  if (routing.any_host) {
    sample_pool_.parallel_for(num_sampled, take);
  } else {
    for (std::int64_t i = 0; i < num_sampled; ++i)
      take(i);
  }
  result.forward_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace pagoda::cuda
