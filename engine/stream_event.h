// StreamEvent: what a front end receives for one request — new tokens and
// their text, logprobs, and on the last event the finish reason, usage and
// timings. Plain value produced on the engine's output thread; safe to move to
// any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "scheduler/request.h"
#include "scheduler/step_plan.h"

namespace pagoda {

struct TokenLogprobs {
  std::int32_t token_id = 0;
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // best first
};

struct Usage {
  std::int32_t prompt_tokens = 0;
  std::int32_t completion_tokens = 0;
  std::int32_t cached_prompt_tokens = 0;  // served from the prefix cache
};

// Milliseconds, measured by the engine from submit().
struct Timings {
  double queue_ms = 0;  // submit -> first scheduled
  double time_to_first_token_ms = 0;
  double e2e_ms = 0;                   // submit -> final event
  std::vector<double> token_times_ms;  // this event's tokens, since submit
};

struct StreamEvent {
  RequestId request_id = 0;
  std::vector<std::int32_t> token_ids;  // new output tokens (may be empty)
  std::string text;                     // new text, valid UTF-8, stop strings removed
  std::vector<TokenLogprobs> logprobs;  // one per new token, when asked for
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  std::string matched_stop;              // the stop string that ended the request, if any
  std::int32_t matched_stop_token = -1;  // or the stop token id / eos id
  Usage usage;                           // running totals; final on the last event
  Timings timings;
  Status error;  // why, when finish_reason is kError
};

}  // namespace pagoda
