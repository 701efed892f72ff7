// The sampling settings the benchmarks time, defined once so that every
// table, and docs/performance.md, means the same by them. Plain values.
#pragma once

#include "scheduler/sampling_params.h"

namespace pagoda::bench {

// A chat setting: temperature 0.8, top_p 0.95.
inline SamplingParams chat_sampling() {
  SamplingParams s;
  s.temperature = 0.8;
  s.top_p = 0.95;
  return s;
}

// chat_sampling() with repetition 1.1, presence 0.3 and frequency 0.2: every
// penalty that reads the request's history.
inline SamplingParams penalized_sampling() {
  SamplingParams s = chat_sampling();
  s.repetition_penalty = 1.1;
  s.presence_penalty = 0.3;
  s.frequency_penalty = 0.2;
  return s;
}

}  // namespace pagoda::bench
