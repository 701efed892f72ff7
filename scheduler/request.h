// Request: one generation's engine-side state — prompt + output token ids in one
// contiguous vector, progress (num_computed_tokens), KV block table, timing and
// policy keys. Owned and mutated by the Scheduler on the step thread only;
// readers elsewhere get copies through RequestEvent.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/block_hash.h"
#include "scheduler/sampling_params.h"
#include "scheduler/step_plan.h"

namespace pagoda {

// Lifecycle (transitions are marked in scheduler.cc beside the code):
//   waiting -> running -> finished
//   running -> preempted -> running   (preempted requests wait in the waiting queue)
//   waiting | preempted -> finished   (abort, deadline shed)
enum class RequestState : std::uint8_t { kWaiting, kRunning, kPreempted, kFinished };

enum class FinishReason : std::uint8_t {
  kNone,      // not finished
  kStop,      // eos or a stop token id (engine: a stop string, via Scheduler::finish)
  kLength,    // max_tokens or max_model_len reached
  kAbort,     // cancelled by the client
  kError,     // the step that was computing it failed
  kDeadline,  // shed: its time-to-first-token deadline could no longer be met
};

std::string_view request_state_name(RequestState state);
std::string_view finish_reason_name(FinishReason reason);

// What Scheduler::submit takes: a request as the front end describes it.
struct NewRequest {
  RequestId id = 0;  // unique among unfinished requests; the engine assigns it
  std::vector<std::int32_t> prompt_token_ids;
  SamplingParams sampling;
  std::int32_t priority = 0;  // lower value runs first
  std::string tenant;         // fair-share key (API key, user); "" is a tenant like any other
  // Time-to-first-token deadline, relative to arrival, in milliseconds.
  std::optional<double> ttft_deadline_ms;
};

class Request {
 public:
  Request(NewRequest spec, double arrival_time_ms, std::uint64_t seed, std::int32_t tenant_index);

  RequestId id() const { return id_; }
  RequestState state() const { return state_; }
  FinishReason finish_reason() const { return finish_reason_; }

  // Prompt followed by the outputs so far, contiguous (ScheduledSequence::token_ids spans it).
  std::span<const std::int32_t> token_ids() const { return token_ids_; }
  std::span<const std::int32_t> prompt_token_ids() const {
    return std::span<const std::int32_t>(token_ids_).first(static_cast<std::size_t>(num_prompt_tokens_));
  }
  std::span<const std::int32_t> output_token_ids() const {
    return std::span<const std::int32_t>(token_ids_).subspan(static_cast<std::size_t>(num_prompt_tokens_));
  }
  std::int32_t num_tokens() const { return static_cast<std::int32_t>(token_ids_.size()); }
  std::int32_t num_prompt_tokens() const { return num_prompt_tokens_; }
  std::int32_t num_output_tokens() const { return num_tokens() - num_prompt_tokens_; }
  // Tokens whose K/V are in this request's blocks; catches up with num_tokens().
  std::int32_t num_computed_tokens() const { return num_computed_tokens_; }
  std::int32_t num_tokens_to_compute() const { return num_tokens() - num_computed_tokens_; }

  const SamplingParams& sampling() const { return sampling_; }
  std::uint64_t seed() const { return seed_; }  // resolved: the given seed or one drawn at submit
  std::int32_t priority() const { return priority_; }
  const std::string& tenant() const { return tenant_; }
  std::int32_t tenant_index() const { return tenant_index_; }

  double arrival_time_ms() const { return arrival_time_ms_; }
  std::optional<double> deadline_ms() const { return deadline_ms_; }  // absolute, scheduler clock
  std::optional<double> first_token_time_ms() const { return first_token_time_ms_; }

  // KV blocks holding tokens [i * block_size, (i + 1) * block_size) at index i.
  std::span<const std::int32_t> block_table() const { return block_table_; }
  std::int32_t num_preemptions() const { return num_preemptions_; }
  // Prompt tokens served from the prefix cache when first admitted.
  std::int32_t num_cached_prompt_tokens() const { return num_cached_prompt_tokens_; }

 private:
  friend class Scheduler;

  RequestId id_;
  std::vector<std::int32_t> token_ids_;  // capacity reserved for prompt + max_tokens
  std::int32_t num_prompt_tokens_;
  SamplingParams sampling_;
  std::uint64_t seed_;
  std::int32_t priority_;
  std::string tenant_;
  std::int32_t tenant_index_;
  double arrival_time_ms_;
  std::optional<double> deadline_ms_;
  std::optional<double> first_token_time_ms_;

  RequestState state_ = RequestState::kWaiting;
  FinishReason finish_reason_ = FinishReason::kNone;
  std::int32_t num_computed_tokens_ = 0;
  std::vector<std::int32_t> block_table_;
  // Chained hashes of the first full blocks of token_ids_ (grown lazily; tokens never change).
  std::vector<BlockHash> block_hashes_;
  // block_table_[0, num_registered_blocks_) are published in the prefix cache (or were hits).
  std::int32_t num_registered_blocks_ = 0;
  std::int32_t num_preemptions_ = 0;
  std::int32_t num_cached_prompt_tokens_ = 0;
  bool ever_admitted_ = false;
  // Index in the in-flight StepPlan, or -1.
  std::int32_t plan_index_ = -1;
  // An abort/finish arrived while this request was in the in-flight plan.
  FinishReason pending_end_ = FinishReason::kNone;
  // Key in the scheduler's deadline index while queued with a deadline.
  std::optional<double> latest_start_ms_;
};

}  // namespace pagoda
