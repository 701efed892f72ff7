// RequestEvent: what one step did to one request, for the front end — the
// token sampled for it (with logprobs) and/or that it finished and why.
// Plain value produced by Scheduler::update on the step thread; safe to copy
// to other threads.
#pragma once

#include <cstdint>
#include <vector>

#include "scheduler/request.h"
#include "scheduler/step_plan.h"

namespace pagoda {

struct RequestEvent {
  RequestId request_id = 0;
  // The token this step produced for the request (absent for aborts, errors,
  // sheds and engine-requested finishes).
  bool has_token = false;
  std::int32_t token_id = -1;
  float logprob = 0.0f;                    // of token_id, when logprobs were asked for
  std::vector<TokenLogprob> top_logprobs;  // best first; empty unless asked for
  std::int32_t num_output_tokens = 0;      // after this event
  // Set on the request's last event; no event follows it.
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  std::int32_t num_prompt_tokens = 0;
  std::int32_t num_cached_prompt_tokens = 0;  // prefix-cache hits at first admission (usage)
};

}  // namespace pagoda
