// StepPlan and StepResult: the two messages that cross the step boundary, one
// down (Scheduler -> ModelRunner) and one up (Sampler -> Scheduler::update).
// Built and consumed on the step thread. Spans point into Request storage the
// scheduler owns and does not mutate until update() — valid for one step only.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "scheduler/sampling_params.h"

namespace pagoda {

using RequestId = std::uint64_t;

// One request's share of a step. The runner computes tokens
// [start_position, start_position + num_tokens) of token_ids, writing their K/V
// into the cache blocks of block_table, and attends to everything before them.
struct ScheduledSequence {
  RequestId request_id = 0;
  std::span<const std::int32_t> token_ids;  // prompt + output so far (all of them)
  std::int32_t num_prompt_tokens = 0;
  std::int32_t start_position = 0;            // == num_computed_tokens before this step
  std::int32_t num_tokens = 0;                // > 0
  std::span<const std::int32_t> block_table;  // covers start_position + num_tokens slots
  // True when this step reaches the end of token_ids: the last position's
  // logits are sampled into the next output token.
  bool sample = false;
  std::int32_t num_output_tokens = 0;        // output position of the token sampled now
  const SamplingParams* sampling = nullptr;  // never null
  std::uint64_t seed = 0;                    // resolved seed of this request's random stream
};

struct StepPlan {
  std::uint64_t step_id = 0;
  std::vector<ScheduledSequence> sequences;  // decodes first, then prefill chunks
  std::int32_t num_batched_tokens = 0;       // sum of num_tokens
};

struct TokenLogprob {
  std::int32_t token_id = 0;
  float logprob = 0.0f;
};

// What sampling produced for one sequence with sample == true.
struct SampledToken {
  RequestId request_id = 0;
  std::int32_t token_id = 0;
  float logprob = 0.0f;                    // of the chosen token (when logprobs were asked for)
  std::vector<TokenLogprob> top_logprobs;  // best first, SamplingParams::logprobs of them
};

struct StepResult {
  std::uint64_t step_id = 0;
  std::vector<SampledToken> sampled;  // in StepPlan order, sampling sequences only
  double forward_ms = 0.0;            // model time of the step (for metrics)
};

}  // namespace pagoda
