// pagoda_sampler_bench: the host Sampler's time for one row of Qwen 3's
// vocabulary (151,936 logits, normal with standard deviation 2.5) under
// common settings — the step thread pays it for every sampled row. Prints the
// best of 30 calls per setting (each on a fresh copy of the row).
//   pagoda_sampler_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "engine/sampler.h"

int main() {
  using namespace pagoda;
  constexpr std::int32_t kVocab = 151936;
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 2.5f);
  std::vector<float> row(kVocab);
  for (float& x : row)
    x = d(rng);
  const std::vector<std::int32_t> history = {1, 2, 3, 4, 5};
  struct Setting {
    const char* name;
    SamplingParams sp;
  };
  std::vector<Setting> settings(6);
  settings[0].name = "greedy";
  settings[0].sp.temperature = 0.0;
  settings[1].name = "temperature 1";
  settings[2].name = "temperature 0.7, top_p 0.9";
  settings[2].sp.temperature = 0.7;
  settings[2].sp.top_p = 0.9;
  settings[3].name = "Qwen 3 defaults (0.6, top_k 20, top_p 0.95)";
  settings[3].sp.temperature = 0.6;
  settings[3].sp.top_k = 20;
  settings[3].sp.top_p = 0.95;
  settings[4].name = "temperature 1, logprobs 5";
  settings[4].sp.logprobs = 5;
  settings[5].name = "greedy, repetition_penalty 1.1";
  settings[5].sp.temperature = 0.0;
  settings[5].sp.repetition_penalty = 1.1;
  const Sampler sampler({151645});
  for (const Setting& s : settings) {
    ScheduledSequence seq;
    seq.token_ids = history;
    seq.num_prompt_tokens = static_cast<std::int32_t>(history.size());
    seq.sampling = &s.sp;
    seq.seed = 3;
    double best_ms = 1e30;
    std::int32_t token = 0;
    for (int rep = 0; rep < 30; ++rep) {
      std::vector<float> logits = row;
      const auto t = std::chrono::steady_clock::now();
      token = sampler.sample(seq, logits.data(), kVocab).token_id;
      best_ms = std::min(
          best_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
    std::printf("%-46s %7.3f ms  (token %d)\n", s.name, best_ms, token);
  }
  return 0;
}
