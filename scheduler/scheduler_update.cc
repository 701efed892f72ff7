// Scheduler: applying a step's results (update(), fail_step()), ending
// requests, publishing computed blocks in the prefix cache, and the
// cross-checks of check_invariants().
#include <algorithm>
#include <cassert>
#include <string>

#include "scheduler/scheduler.h"

namespace pagoda {

void Scheduler::ensure_block_hashes(Request* r, std::int32_t num_full_blocks) {
  const auto bs = static_cast<std::size_t>(config_.block_size);
  const std::span<const std::int32_t> tokens = r->token_ids();
  while (static_cast<std::int32_t>(r->block_hashes_.size()) < num_full_blocks) {
    const std::size_t b = r->block_hashes_.size();
    const BlockHash parent = b == 0 ? kRootBlockHash : r->block_hashes_[b - 1];
    r->block_hashes_.push_back(hash_block_tokens(parent, tokens.subspan(b * bs, bs)));
  }
}

void Scheduler::publish_full_blocks(Request* r) {
  if (!allocator_.prefix_caching_enabled()) return;
  const std::int32_t bs = config_.block_size;
  const std::int32_t full =
      std::min(r->num_computed_tokens_ / bs, static_cast<std::int32_t>(r->block_table_.size()));
  if (full <= r->num_registered_blocks_) return;
  ensure_block_hashes(r, full);
  const std::span<const std::int32_t> tokens = r->token_ids();
  for (std::int32_t b = r->num_registered_blocks_; b < full; ++b) {
    const auto i = static_cast<std::size_t>(b);
    const BlockHash parent = b == 0 ? kRootBlockHash : r->block_hashes_[i - 1];
    // False when another block already holds this content: ours stays private.
    (void)allocator_.cache_block(
        r->block_table_[i], r->block_hashes_[i], parent,
        tokens.subspan(i * static_cast<std::size_t>(bs), static_cast<std::size_t>(bs)));
  }
  r->num_registered_blocks_ = full;
}

FinishReason Scheduler::stop_reason(const Request& r, std::int32_t token) const {
  const SamplingParams& sp = r.sampling_;
  const std::int32_t num_out = r.num_output_tokens();
  // Stop ids count only once min_tokens are out (the sampler suppresses them before).
  if (num_out >= sp.min_tokens) {
    if (!sp.ignore_eos && std::find(config_.eos_token_ids.begin(), config_.eos_token_ids.end(), token) !=
                              config_.eos_token_ids.end()) {
      return FinishReason::kStop;
    }
    if (std::find(sp.stop_token_ids.begin(), sp.stop_token_ids.end(), token) != sp.stop_token_ids.end()) {
      return FinishReason::kStop;
    }
  }
  if (num_out >= sp.max_tokens || r.num_tokens() >= config_.max_model_len) return FinishReason::kLength;
  return FinishReason::kNone;
}

void Scheduler::end_request(Request* r, FinishReason reason, RequestEvent* event) {
  // waiting | preempted | running -> finished
  if (r->state_ == RequestState::kWaiting || r->state_ == RequestState::kPreempted) waiting_.erase(r);
  forget_deadline(r);
  allocator_.free(r->block_table_);
  r->block_table_.clear();
  r->state_ = RequestState::kFinished;
  r->finish_reason_ = reason;
  fair_share_.remove_request(r->tenant_index_);
  ++stats_.num_finished;
  if (reason == FinishReason::kAbort) ++stats_.num_aborted;
  if (reason == FinishReason::kDeadline) ++stats_.num_shed;
  if (event == nullptr) {
    event = &events_.emplace_back();
    event->request_id = r->id_;
    event->num_output_tokens = r->num_output_tokens();
  }
  event->finished = true;
  event->finish_reason = reason;
  event->num_prompt_tokens = r->num_prompt_tokens_;
  event->num_cached_prompt_tokens = r->num_cached_prompt_tokens_;
  finished_.push_back(r);
}

void Scheduler::collect_finished() {
  if (finished_.empty()) return;
  std::erase_if(running_, [](const Request* r) { return r->state_ == RequestState::kFinished; });
  for (Request* r : finished_)
    requests_.erase(r->id_);  // destroys it
  finished_.clear();
}

void Scheduler::end_step() {
  collect_finished();
  returned_events_.swap(events_);
  events_.clear();
#ifndef NDEBUG
  const Status s = check_invariants();
  assert(s.ok() && "scheduler invariants broken");
#endif
}

const std::vector<RequestEvent>& Scheduler::update(const StepResult& result) {
  if (!in_flight_) {
    end_step();  // between steps: just flush events (aborts, sheds)
    return returned_events_;
  }
  if (result.step_id != plan_.step_id && !plan_.sequences.empty()) return fail_step();
  in_flight_ = false;
  const double now = clock_();
  std::size_t k = 0;  // next entry of result.sampled
  for (std::size_t i = 0; i < plan_requests_.size(); ++i) {
    Request* r = plan_requests_[i];
    const ScheduledSequence& seq = plan_.sequences[i];
    r->plan_index_ = -1;
    const bool has_sample = seq.sample && k < result.sampled.size() && result.sampled[k].request_id == r->id_;
    if (r->pending_end_ != FinishReason::kNone) {
      if (has_sample) ++k;  // its token is dropped; ended below
      continue;
    }
    r->num_computed_tokens_ += seq.num_tokens;
    publish_full_blocks(r);
    if (!seq.sample) continue;
    if (!has_sample) {
      end_request(r, FinishReason::kError, nullptr);
      continue;
    }
    const SampledToken& t = result.sampled[k++];
    r->token_ids_.push_back(t.token_id);
    if (!r->first_token_time_ms_) r->first_token_time_ms_ = now;
    fair_share_.charge(r->tenant_index_, config_.fairness_output_weight);
    RequestEvent& e = events_.emplace_back();
    e.request_id = r->id_;
    e.has_token = true;
    e.token_id = t.token_id;
    e.logprob = t.logprob;
    if (!t.top_logprobs.empty()) e.top_logprobs = t.top_logprobs;
    e.num_output_tokens = r->num_output_tokens();
    const FinishReason reason = stop_reason(*r, t.token_id);
    if (reason != FinishReason::kNone) end_request(r, reason, &e);
  }
  for (Request* r : pending_ends_)
    end_request(r, r->pending_end_, nullptr);
  pending_ends_.clear();
  if (result.forward_ms > 0.0) {
    step_time_ms_ = step_time_ms_ == 0.0 ? result.forward_ms : 0.9 * step_time_ms_ + 0.1 * result.forward_ms;
  }
  end_step();
  return returned_events_;
}

const std::vector<RequestEvent>& Scheduler::fail_step() {
  if (in_flight_) {
    in_flight_ = false;
    for (Request* r : plan_requests_) {
      r->plan_index_ = -1;
      end_request(r, r->pending_end_ != FinishReason::kNone ? r->pending_end_ : FinishReason::kError,
                  nullptr);
    }
    pending_ends_.clear();
  }
  end_step();
  return returned_events_;
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s = stats_;
  s.num_running = num_running();
  s.num_waiting = num_waiting();
  s.num_free_blocks = allocator_.num_free_blocks();
  s.num_cached_blocks = allocator_.num_cached_blocks();
  return s;
}

Status Scheduler::check_invariants() const {
  PAGODA_RETURN_IF_ERROR(allocator_.check_invariants());
  auto fail = [](RequestId id, const std::string& what) {
    return internal_error("scheduler: request " + std::to_string(id) + ": " + what);
  };
  const std::int32_t bs = config_.block_size;
  std::vector<std::int32_t> refs(static_cast<std::size_t>(config_.num_blocks), 0);
  std::int32_t num_running_seen = 0;
  std::int32_t num_waiting_seen = 0;
  std::int64_t queued_tokens = 0;
  for (const auto& [id, owned] : requests_) {
    const Request& r = *owned;
    if (r.id_ != id) return fail(id, "stored under another id");
    const auto num_blocks = static_cast<std::int32_t>(r.block_table_.size());
    switch (r.state_) {
      case RequestState::kRunning:
        ++num_running_seen;
        if (r.num_computed_tokens_ > r.num_tokens()) return fail(id, "computed more tokens than it has");
        if (num_blocks * bs < r.num_computed_tokens_) return fail(id, "computed tokens have no block");
        if (num_blocks > (r.num_tokens() + bs - 1) / bs)
          return fail(id, "holds more blocks than its tokens need");
        if (r.num_registered_blocks_ > num_blocks) return fail(id, "registered blocks it does not hold");
        break;
      case RequestState::kWaiting:
      case RequestState::kPreempted:
        ++num_waiting_seen;
        queued_tokens += r.num_tokens();
        if (num_blocks != 0 || r.num_computed_tokens_ != 0)
          return fail(id, "queued but holds blocks or progress");
        break;
      case RequestState::kFinished:
        return fail(id, "finished but still stored");
    }
    for (std::int32_t b : r.block_table_) {
      if (b < 0 || b >= config_.num_blocks) return fail(id, "bad block id " + std::to_string(b));
      ++refs[static_cast<std::size_t>(b)];
    }
  }
  for (std::int32_t b = 0; b < config_.num_blocks; ++b) {
    if (refs[static_cast<std::size_t>(b)] != allocator_.ref_count(b)) {
      return internal_error("scheduler: block " + std::to_string(b) + " has ref " +
                            std::to_string(allocator_.ref_count(b)) + " but block tables hold it " +
                            std::to_string(refs[static_cast<std::size_t>(b)]) + " times");
    }
  }
  if (num_running_seen != num_running()) return internal_error("scheduler: running list and states disagree");
  for (std::size_t i = 0; i < running_.size(); ++i) {
    if (running_[i]->state_ != RequestState::kRunning) return fail(running_[i]->id_, "in the running list");
    if (i > 0 && !(running_[i - 1]->priority_ < running_[i]->priority_ ||
                   (running_[i - 1]->priority_ == running_[i]->priority_ &&
                    (running_[i - 1]->arrival_time_ms_ < running_[i]->arrival_time_ms_ ||
                     (running_[i - 1]->arrival_time_ms_ == running_[i]->arrival_time_ms_ &&
                      running_[i - 1]->id_ < running_[i]->id_))))) {
      return internal_error("scheduler: running list out of order");
    }
  }
  if (num_waiting_seen != waiting_.size() || queued_tokens != waiting_.num_queued_tokens()) {
    return internal_error("scheduler: waiting queue and states disagree");
  }
  if (static_cast<std::int32_t>(running_.size()) > config_.max_num_seqs) {
    return internal_error("scheduler: more running requests than max_num_seqs");
  }
  return ok_status();
}

}  // namespace pagoda
