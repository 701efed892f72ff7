#include "engine/cpu/cpu_model_runner.h"

#include <algorithm>
#include <chrono>

#include "base/thread_name.h"
#include "engine/cpu/cpu_communicator.h"
#include "engine/cpu/cpu_rank.h"
#include "engine/step_plan_validation.h"

namespace pagoda::cpu {

CpuModelRunner::CpuModelRunner(ModelConfig config, KvCacheInfo kv_info)
    : config_(std::move(config)), kv_info_(kv_info), isa_(detected_isa()), sampler_(config_.eos_token_ids) {}

StatusOr<std::unique_ptr<CpuModelRunner>> CpuModelRunner::create(
    const ModelConfig& config, std::shared_ptr<const Checkpoint> checkpoint, const CpuRunnerOptions& o,
    std::vector<std::unique_ptr<Communicator>> communicators) {
  const int tp = o.tensor_parallel_size;
  if (tp < 1 || tp > 64) return invalid_argument("--tp must be between 1 and 64, got " + std::to_string(tp));
  if (o.block_size < 1 || o.block_size > 1024) return invalid_argument("--block-size must be in [1, 1024]");
  const int num_local = communicators.empty() ? tp : static_cast<int>(communicators.size());
  const int first_rank = communicators.empty() ? 0 : communicators[0]->rank();
  for (int i = 0; i < static_cast<int>(communicators.size()); ++i) {
    const Communicator& c = *communicators[static_cast<std::size_t>(i)];
    if (c.world_size() != tp || c.rank() != first_rank + i)
      return invalid_argument("communicators must stand for consecutive ranks of --tp " + std::to_string(tp));
  }
  PAGODA_RETURN_IF_ERROR(checkpoint->validate(config));

  std::vector<RankShard> shards;
  for (int r = first_rank; r < first_rank + num_local; ++r) {
    PAGODA_ASSIGN_OR_RETURN(RankShard s, RankShard::make(config, r, tp));
    shards.push_back(s);
  }
  const std::int64_t bytes_per_block = CpuRank::kv_bytes_per_block(config, shards[0], o.block_size);
  std::int64_t num_blocks = o.num_kv_blocks;
  if (num_blocks <= 0) num_blocks = o.kv_cache_bytes / (bytes_per_block * tp);
  if (num_blocks < 1) {
    return resource_exhausted("KV cache budget of " + std::to_string(o.kv_cache_bytes) +
                              " bytes holds no block (one block needs " +
                              std::to_string(bytes_per_block * tp) + " bytes)");
  }
  num_blocks = std::min<std::int64_t>(num_blocks, 1 << 24);

  auto runner = std::unique_ptr<CpuModelRunner>(new CpuModelRunner(
      config, KvCacheInfo{o.block_size, static_cast<std::int32_t>(num_blocks), bytes_per_block}));
  runner->keep_logits_ = o.keep_logits;
  runner->tensor_parallel_size_ = tp;
  int total_threads =
      o.num_threads > 0 ? o.num_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads_per_rank = std::max(1, total_threads / num_local);
  if (communicators.empty()) {
    auto group = std::make_shared<CpuCommGroup>(tp);
    for (int r = 0; r < tp; ++r)
      communicators.push_back(std::make_unique<CpuCommunicator>(group, r));
  }
  std::vector<std::shared_ptr<const CpuWeights>> weights;
  for (int i = 0; i < num_local; ++i) {
    PAGODA_ASSIGN_OR_RETURN(weights.emplace_back(), CpuWeights::create(runner->config_, checkpoint,
                                                                       shards[static_cast<std::size_t>(i)]));
  }
  std::vector<std::unique_ptr<const CpuPackedWeights>> packed;
  {
    ThreadPool pool(total_threads);
    PAGODA_ASSIGN_OR_RETURN(packed, CpuPackedWeights::pack_all(runner->config_, weights, *checkpoint, pool));
  }
  for (int i = 0; i < num_local; ++i) {
    const auto r = static_cast<std::size_t>(i);
    runner->ranks_.push_back(std::make_unique<CpuRank>(
        runner->config_, std::move(weights[r]), std::move(packed[r]), std::move(communicators[r]),
        threads_per_rank, runner->isa_, static_cast<std::int32_t>(num_blocks), o.block_size));
  }
  if (num_local > 1) {
    runner->start_ = std::make_unique<std::barrier<>>(num_local);
    runner->end_ = std::make_unique<std::barrier<>>(num_local);
    for (int r = 1; r < num_local; ++r)
      runner->rank_threads_.emplace_back([p = runner.get(), r] {
        set_current_thread_name("pagoda-rank" + std::to_string(r));
        p->rank_thread_loop(r);
      });
  }
  return runner;
}

CpuModelRunner::~CpuModelRunner() {
  if (!rank_threads_.empty()) {
    stop_.store(true, std::memory_order_release);
    start_->arrive_and_wait();
    for (auto& t : rank_threads_)
      t.join();
  }
}

void CpuModelRunner::rank_thread_loop(int rank) {
  while (true) {
    start_->arrive_and_wait();
    if (stop_.load(std::memory_order_acquire)) return;
    ranks_[static_cast<std::size_t>(rank)]->forward(*current_plan_);
    end_->arrive_and_wait();
  }
}

StatusOr<StepResult> CpuModelRunner::run(const StepPlan& plan) {
  PAGODA_RETURN_IF_ERROR(validate_step_plan(plan, config_, kv_info_));
  StepResult result;
  result.step_id = plan.step_id;
  if (plan.sequences.empty()) return result;
  const auto start = std::chrono::steady_clock::now();
  if (rank_threads_.empty()) {
    ranks_[0]->forward(plan);
  } else {
    current_plan_ = &plan;
    start_->arrive_and_wait();
    ranks_[0]->forward(plan);
    end_->arrive_and_wait();
    current_plan_ = nullptr;
  }
  for (const auto& rank : ranks_) {
    // A collective failed (another node is gone): this step's results are garbage.
    if (Status e = rank->communicator().error(); !e.ok()) return unavailable(e.message());
  }
  // Sample on rank 0; rows are independent.
  CpuRank& r0 = *ranks_[0];
  std::vector<const ScheduledSequence*> sampled;
  for (const ScheduledSequence& s : plan.sequences) {
    if (s.sample) sampled.push_back(&s);
  }
  result.sampled.resize(sampled.size());
  auto& logits = const_cast<std::vector<float>&>(r0.logits());
  const std::int64_t stride = r0.logits_stride();
  if (keep_logits_) {
    last_logits_.clear();
    for (std::size_t i = 0; i < sampled.size(); ++i) {
      last_logits_.emplace_back(
          logits.begin() + static_cast<std::ptrdiff_t>(i) * stride,
          logits.begin() + static_cast<std::ptrdiff_t>(i) * stride + config_.vocab_size);
    }
  }
  r0.pool().parallel_for(static_cast<std::int64_t>(sampled.size()), [&](std::int64_t i) {
    result.sampled[static_cast<std::size_t>(i)] = sampler_.sample(
        *sampled[static_cast<std::size_t>(i)], logits.data() + i * stride, config_.vocab_size);
  });
  result.forward_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace pagoda::cpu
