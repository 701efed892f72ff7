// SamplingParams: how one request turns logits into tokens and when it stops.
// Plain value, validated at the edge (front end / CLI) before it reaches the
// engine; copied into the Request, read by the Sampler on the step thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace pagoda {

struct SamplingParams {
  static constexpr int kMaxTopLogprobs = 20;

  // temperature == 0 means greedy (argmax); top_k 0 or -1 means off; top_p 1 and min_p 0 mean off.
  double temperature = 1.0;
  std::int32_t top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
  // Penalties as vLLM/OpenAI define them: repetition (HF-style, >1 discourages, over prompt and output),
  // presence and frequency (OpenAI-style, over output tokens only).
  double repetition_penalty = 1.0;
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  std::vector<std::pair<std::int32_t, float>> logit_bias;  // added to logits before sampling

  // Seed of this request's random stream; unset draws one at submit. Token i of
  // the output uses the stream at position i, so the result does not depend on
  // batching or on recompute after preemption.
  std::optional<std::uint64_t> seed;

  std::int32_t max_tokens = 16;              // output tokens, >= 1
  std::int32_t min_tokens = 0;               // stop tokens are suppressed until this many are out
  bool ignore_eos = false;                   // the model's eos ids do not stop the request
  std::vector<std::int32_t> stop_token_ids;  // extra ids that stop the request (kept in output)
  std::vector<std::string> stop;             // stop strings, matched on detokenized text (not in output)
  bool skip_special_tokens = true;           // for detokenized text

  // Logprobs of the chosen token (when >= 0) and this many alternatives (0..20).
  std::int32_t logprobs = -1;

  bool greedy() const { return temperature == 0.0; }
  bool uses_penalties() const {
    return repetition_penalty != 1.0 || presence_penalty != 0.0 || frequency_penalty != 0.0;
  }

  // Checks ranges; errors name the field as the OpenAI API spells it.
  Status validate(std::int32_t vocab_size) const;
};

}  // namespace pagoda
