// Scheduler: submission, cancellation and step planning (schedule()). The
// step's results are applied in scheduler_update.cc.
#include "scheduler/scheduler.h"

#include <algorithm>
#include <string>

namespace pagoda {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Running order: priority, then arrival. The last is the preemption victim.
bool runs_before(const Request* a, const Request* b) {
  if (a->priority() != b->priority()) return a->priority() < b->priority();
  if (a->arrival_time_ms() != b->arrival_time_ms()) return a->arrival_time_ms() < b->arrival_time_ms();
  return a->id() < b->id();
}

std::int32_t ceil_div(std::int64_t a, std::int64_t b) {
  return static_cast<std::int32_t>((a + b - 1) / b);
}

std::string request_name(RequestId id) {
  return "request " + std::to_string(id);
}

}  // namespace

StatusOr<std::unique_ptr<Scheduler>> Scheduler::create(SchedulerConfig config, Clock clock) {
  PAGODA_RETURN_IF_ERROR(config.validate());
  if (!clock) return invalid_argument("scheduler: the clock is empty");
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(config), std::move(clock)));
}

Scheduler::Scheduler(SchedulerConfig config, Clock clock)
    : config_(std::move(config)),
      clock_(std::move(clock)),
      allocator_(config_.num_blocks, config_.block_size, config_.enable_prefix_caching),
      waiting_(fair_share_),
      watermark_blocks_(static_cast<std::int32_t>(config_.admission_watermark * config_.num_blocks)),
      step_time_ms_(config_.initial_step_time_ms),
      seed_state_(config_.seed) {
  const auto max_seqs = static_cast<std::size_t>(config_.max_num_seqs);
  running_.reserve(max_seqs);
  plan_.sequences.reserve(max_seqs);
  plan_requests_.reserve(max_seqs);
  pending_ends_.reserve(max_seqs);
  finished_.reserve(max_seqs);
  events_.reserve(max_seqs);
  returned_events_.reserve(max_seqs);
}

const Request* Scheduler::find(RequestId id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second.get();
}

std::int32_t Scheduler::chunk_cap() const {
  const std::int32_t t = config_.long_prefill_token_threshold;
  return t > 0 ? std::min(t, config_.max_num_batched_tokens) : config_.max_num_batched_tokens;
}

double Scheduler::min_ttft_ms(std::int32_t num_tokens) const {
  return ceil_div(num_tokens, chunk_cap()) * step_time_ms_;
}

Status Scheduler::submit(NewRequest spec) {
  auto reject = [this](Status status) {
    ++stats_.num_rejected;
    return status;
  };
  const std::string name = request_name(spec.id);
  const auto num_prompt = static_cast<std::int64_t>(spec.prompt_token_ids.size());
  const std::int32_t max_tokens = spec.sampling.max_tokens;
  if (num_prompt == 0) return reject(invalid_argument(name + ": the prompt is empty"));
  if (max_tokens < 1) return reject(invalid_argument(name + ": max_tokens must be at least 1"));
  const std::int64_t total = num_prompt + max_tokens;
  if (total > config_.max_model_len) {
    return reject(invalid_argument(name + ": prompt (" + std::to_string(num_prompt) +
                                   " tokens) + max_tokens (" + std::to_string(max_tokens) +
                                   ") = " + std::to_string(total) + " exceeds max_model_len (" +
                                   std::to_string(config_.max_model_len) + ")"));
  }
  // The last output token is never fed back, so total - 1 tokens need KV.
  const std::int32_t max_blocks = ceil_div(total - 1, config_.block_size);
  if (max_blocks > config_.num_blocks) {
    return reject(invalid_argument(name + ": prompt + max_tokens needs " + std::to_string(max_blocks) +
                                   " KV blocks but the whole cache has " +
                                   std::to_string(config_.num_blocks)));
  }
  if (requests_.contains(spec.id))
    return reject(Status(StatusCode::kAlreadyExists, name + ": the id is in use"));
  if (waiting_.size() >= config_.max_queued_requests) {
    return reject(resource_exhausted(name + ": the queue is full (" + std::to_string(waiting_.size()) +
                                     " requests waiting, max_queued_requests " +
                                     std::to_string(config_.max_queued_requests) + "); retry later"));
  }
  if (waiting_.num_queued_tokens() + num_prompt > config_.max_queued_prompt_tokens) {
    return reject(resource_exhausted(
        name + ": the queue is full (" + std::to_string(waiting_.num_queued_tokens()) +
        " prompt tokens waiting + " + std::to_string(num_prompt) + " > max_queued_prompt_tokens " +
        std::to_string(config_.max_queued_prompt_tokens) + "); retry later"));
  }
  const double now = clock_();
  std::optional<double> latest_start;
  if (spec.ttft_deadline_ms && config_.deadline_policy != DeadlinePolicy::kIgnore) {
    const double least = min_ttft_ms(static_cast<std::int32_t>(num_prompt));
    if (least > *spec.ttft_deadline_ms) {
      return reject(
          Status(StatusCode::kDeadlineExceeded,
                 name + ": its time-to-first-token deadline (" + std::to_string(*spec.ttft_deadline_ms) +
                     " ms) cannot be met: its prefill alone takes about " + std::to_string(least) + " ms"));
    }
    if (config_.deadline_policy == DeadlinePolicy::kShed) latest_start = now + *spec.ttft_deadline_ms - least;
  }

  const std::uint64_t seed = spec.sampling.seed ? *spec.sampling.seed : splitmix64(seed_state_);
  const std::int32_t tenant = fair_share_.intern(spec.tenant);
  auto owned = std::make_unique<Request>(std::move(spec), now, seed, tenant);
  Request* r = owned.get();
  r->block_table_.reserve(static_cast<std::size_t>(max_blocks));
  r->block_hashes_.reserve(static_cast<std::size_t>(max_blocks));
  requests_.emplace(r->id_, std::move(owned));
  fair_share_.add_request(tenant);
  // (new) -> waiting
  r->state_ = RequestState::kWaiting;
  waiting_.push(r);
  if (latest_start) {
    r->latest_start_ms_ = latest_start;
    deadlines_.emplace(*latest_start, r->id_);
  }
  ++stats_.num_submitted;
  return ok_status();
}

Status Scheduler::abort(RequestId id) {
  return finish(id, FinishReason::kAbort);
}

Status Scheduler::finish(RequestId id, FinishReason reason) {
  if (reason == FinishReason::kNone) return invalid_argument(request_name(id) + ": finish needs a reason");
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second->pending_end_ != FinishReason::kNone) {
    return not_found(request_name(id) + " is unknown or already finished");
  }
  Request* r = it->second.get();
  if (in_flight_ && r->plan_index_ >= 0) {
    // The runner may be writing its blocks: end it at update().
    r->pending_end_ = reason;
    pending_ends_.push_back(r);
    return ok_status();
  }
  end_request(r, reason, nullptr);
  collect_finished();
  return ok_status();
}

std::int32_t Scheduler::blocks_needed(const Request& r, std::int32_t num_new_tokens) const {
  const std::int32_t total = ceil_div(r.num_computed_tokens_ + num_new_tokens, config_.block_size);
  return std::max(0, total - static_cast<std::int32_t>(r.block_table_.size()));
}

bool Scheduler::reserve_blocks(Request* r, std::int32_t num_new_tokens) {
  const std::int32_t need = blocks_needed(*r, num_new_tokens);
  while (!allocator_.can_allocate(need)) {
    Request* victim = running_.back();  // r is running, so never empty here
    preempt(victim);
    if (victim == r) return false;
  }
  const bool allocated = allocator_.allocate(need, r->block_table_);
  (void)allocated;  // can_allocate(need) held
  return true;
}

void Scheduler::preempt(Request* victim) {
  // running -> preempted: blocks freed (published ones stay cached), back to the
  // waiting queue at its arrival position; it recomputes prompt + outputs so far.
  if (victim->plan_index_ >= 0) remove_from_plan(victim);
  running_.pop_back();
  allocator_.free(victim->block_table_);
  victim->block_table_.clear();
  victim->num_computed_tokens_ = 0;
  victim->num_registered_blocks_ = 0;
  victim->state_ = RequestState::kPreempted;
  ++victim->num_preemptions_;
  ++stats_.num_preemptions;
  preempted_this_step_ = true;
  waiting_.push(victim);
}

void Scheduler::add_to_plan(Request* r, std::int32_t num_tokens) {
  ScheduledSequence& s = plan_.sequences.emplace_back();
  s.request_id = r->id_;
  s.token_ids = r->token_ids_;
  s.num_prompt_tokens = r->num_prompt_tokens_;
  s.start_position = r->num_computed_tokens_;
  s.num_tokens = num_tokens;
  s.block_table = r->block_table_;
  s.sample = r->num_computed_tokens_ + num_tokens == r->num_tokens();
  s.num_output_tokens = r->num_output_tokens();
  s.sampling = &r->sampling_;
  s.seed = r->seed_;
  r->plan_index_ = static_cast<std::int32_t>(plan_requests_.size());
  plan_requests_.push_back(r);
  budget_ -= num_tokens;
  plan_.num_batched_tokens += num_tokens;
  // VTC: prefill (and recompute) work is charged when planned, so several
  // admissions in one step already see each other; output tokens at update().
  if (num_tokens > 1 || s.start_position < s.num_prompt_tokens) {
    fair_share_.charge(r->tenant_index_, config_.fairness_prompt_weight * num_tokens);
  }
}

void Scheduler::remove_from_plan(Request* r) {
  const auto index = static_cast<std::size_t>(r->plan_index_);
  const ScheduledSequence& s = plan_.sequences[index];
  budget_ += s.num_tokens;
  plan_.num_batched_tokens -= s.num_tokens;
  if (s.num_tokens > 1 || s.start_position < s.num_prompt_tokens) {
    fair_share_.charge(r->tenant_index_, -config_.fairness_prompt_weight * s.num_tokens);
  }
  plan_.sequences.erase(plan_.sequences.begin() + static_cast<std::ptrdiff_t>(index));
  plan_requests_.erase(plan_requests_.begin() + static_cast<std::ptrdiff_t>(index));
  for (std::size_t j = index; j < plan_requests_.size(); ++j)
    plan_requests_[j]->plan_index_ = static_cast<std::int32_t>(j);
  r->plan_index_ = -1;
}

bool Scheduler::try_admit(Request* r) {
  const std::int32_t bs = config_.block_size;
  const std::int32_t num_tokens = r->num_tokens();
  scratch_blocks_.clear();
  std::int32_t num_hit = 0;
  if (allocator_.prefix_caching_enabled()) {
    // At least one token must still be computed (its logits give the next token).
    const std::int32_t max_blocks = (num_tokens - 1) / bs;
    ensure_block_hashes(r, max_blocks);
    num_hit = allocator_.match_prefix(
        std::span<const BlockHash>(r->block_hashes_).first(static_cast<std::size_t>(max_blocks)),
        r->token_ids(), max_blocks, scratch_blocks_);
  }
  const std::int32_t num_computed = num_hit * bs;
  const std::int32_t n = std::min({num_tokens - num_computed, budget_, chunk_cap()});
  const std::int32_t num_new_blocks = ceil_div(num_computed + n, bs) - num_hit;
  const std::int32_t watermark = running_.empty() ? 0 : watermark_blocks_;
  if (!allocator_.can_allocate(num_new_blocks + allocator_.num_unreferenced(scratch_blocks_) + watermark)) {
    return false;
  }
  // waiting | preempted -> running
  waiting_.erase(r);
  forget_deadline(r);
  allocator_.acquire(scratch_blocks_);
  r->block_table_.assign(scratch_blocks_.begin(), scratch_blocks_.end());
  const bool allocated = allocator_.allocate(num_new_blocks, r->block_table_);
  (void)allocated;  // checked by can_allocate above
  r->num_computed_tokens_ = num_computed;
  r->num_registered_blocks_ = num_hit;
  r->state_ = RequestState::kRunning;
  if (!r->ever_admitted_) {
    r->ever_admitted_ = true;
    r->num_cached_prompt_tokens_ = std::min(num_computed, r->num_prompt_tokens_);
  }
  stats_.prefix_cache_query_tokens += num_tokens;
  stats_.prefix_cache_hit_tokens += num_computed;
  running_.insert(std::upper_bound(running_.begin(), running_.end(), r, runs_before), r);
  add_to_plan(r, n);
  return true;
}

void Scheduler::forget_deadline(Request* r) {
  if (!r->latest_start_ms_) return;
  deadlines_.erase({*r->latest_start_ms_, r->id_});
  r->latest_start_ms_.reset();
}

void Scheduler::shed_missed_deadlines(double now_ms) {
  while (!deadlines_.empty() && deadlines_.begin()->first < now_ms) {
    Request* r = requests_.at(deadlines_.begin()->second).get();
    // waiting -> finished (shed: it can no longer get its first token in time)
    end_request(r, FinishReason::kDeadline, nullptr);
  }
  collect_finished();
}

const StepPlan& Scheduler::schedule() {
  if (in_flight_) {
    // The previous plan was abandoned: its tokens were not computed.
    for (Request* r : plan_requests_)
      r->plan_index_ = -1;
  }
  in_flight_ = true;
  preempted_this_step_ = false;
  plan_.step_id = static_cast<std::uint64_t>(++stats_.num_steps);
  plan_.sequences.clear();
  plan_.num_batched_tokens = 0;
  plan_requests_.clear();
  budget_ = config_.max_num_batched_tokens;
  if (config_.deadline_policy == DeadlinePolicy::kShed && !deadlines_.empty())
    shed_missed_deadlines(clock_());

  // 1. Decodes: running requests with one token to compute, in running order.
  for (std::size_t i = 0; i < running_.size() && budget_ > 0; ++i) {
    Request* r = running_[i];
    if (r->num_tokens_to_compute() != 1) continue;
    if (!reserve_blocks(r, 1)) continue;  // r itself was preempted (it was last)
    add_to_plan(r, 1);
  }
  // 2. Chunked prefill of running requests (new prompts, recompute after preemption).
  for (std::size_t i = 0; i < running_.size() && budget_ > 0; ++i) {
    Request* r = running_[i];
    if (r->plan_index_ >= 0 || r->num_tokens_to_compute() <= 1) continue;
    const std::int32_t n = std::min({r->num_tokens_to_compute(), budget_, chunk_cap()});
    if (!reserve_blocks(r, n)) continue;
    add_to_plan(r, n);
  }
  // 3. Admission, unless this step had to preempt (the cache is full).
  if (!preempted_this_step_) {
    while (budget_ > 0 && static_cast<std::int32_t>(running_.size()) < config_.max_num_seqs &&
           !waiting_.empty()) {
      if (!try_admit(waiting_.peek())) break;  // head-of-line: no skipping ahead of it
    }
  }
  return plan_;
}

}  // namespace pagoda
