// Sampler: turns one sequence's logits into its next token on the host, with
// that request's SamplingParams. Randomness for output position i comes from
// (seed, i) alone, so a request samples the same tokens whatever batch it is
// in and after recompute. Stateless; any thread may use a const Sampler.
#pragma once

#include <cstdint>
#include <vector>

#include "scheduler/step_plan.h"

namespace pagoda {

class Sampler {
 public:
  // eos ids are suppressed while a request has fewer than min_tokens outputs.
  explicit Sampler(std::vector<std::int32_t> eos_token_ids) : eos_token_ids_(std::move(eos_token_ids)) {}

  // logits: [vocab_size] f32, processed in place. Logprobs (when asked) are of
  // the model's raw distribution, before penalties and temperature (as vLLM's
  // default). A NaN logit weighs nothing (chosen only when every logit is
  // NaN); a row whose best is not finite takes its best, as greedy does.
  SampledToken sample(const ScheduledSequence& seq, float* logits, std::int32_t vocab_size) const;

  // A uniform double in [0, 1) for (seed, output position).
  static double uniform(std::uint64_t seed, std::int64_t position);

 private:
  std::vector<std::int32_t> eos_token_ids_;
};

}  // namespace pagoda
