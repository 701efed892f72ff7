#include "scheduler/request.h"

#include <utility>

namespace pagoda {

std::string_view request_state_name(RequestState state) {
  switch (state) {
    case RequestState::kWaiting:
      return "waiting";
    case RequestState::kRunning:
      return "running";
    case RequestState::kPreempted:
      return "preempted";
    case RequestState::kFinished:
      return "finished";
  }
  return "unknown";
}

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
    case FinishReason::kDeadline:
      return "deadline";
  }
  return "unknown";
}

Request::Request(NewRequest spec, double arrival_time_ms, std::uint64_t seed, std::int32_t tenant_index)
    : id_(spec.id),
      token_ids_(std::move(spec.prompt_token_ids)),
      num_prompt_tokens_(static_cast<std::int32_t>(token_ids_.size())),
      sampling_(std::move(spec.sampling)),
      seed_(seed),
      priority_(spec.priority),
      tenant_(std::move(spec.tenant)),
      tenant_index_(tenant_index),
      arrival_time_ms_(arrival_time_ms) {
  if (spec.ttft_deadline_ms) deadline_ms_ = arrival_time_ms + *spec.ttft_deadline_ms;
  // Outputs append in place: spans handed out in a StepPlan never see a reallocation.
  token_ids_.reserve(token_ids_.size() + static_cast<std::size_t>(sampling_.max_tokens));
}

}  // namespace pagoda
