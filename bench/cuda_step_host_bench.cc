// pagoda_sample_batch_bench: the step thread's host time to route a CUDA
// step's sampled rows and build the device sampler's rows and logit edits
// (route_sampled_rows), which it pays every decode step before the launch.
// Rows with penalties (repetition, presence, frequency) are timed beside rows
// without: the device reads their histories (cuda/row_edits.h), so their
// cost here should not grow with history (it grew with batch x history when
// the host turned histories into edits, docs/performance.md). Histories hold
// distinct tokens. Prints the best of 30 calls per shape.
//   pagoda_sample_batch_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "engine/cuda/device_sample_batch.h"

int main() {
  using namespace pagoda;
  constexpr std::int32_t kVocab = 151936;
  constexpr std::int32_t kOutputTokens = 100;
  const std::vector<std::int32_t> eos = {151645};
  std::printf("%5s %8s %9s %12s %10s\n", "batch", "history", "penalties", "us per step", "edits");
  for (const int history : {512, 4096}) {
    for (const int batch_size : {1, 64, 256}) {
      for (const bool penalties : {false, true}) {
        SamplingParams sp;
        sp.temperature = 0.8;
        sp.top_p = 0.95;
        if (penalties) {
          sp.repetition_penalty = 1.1;
          sp.presence_penalty = 0.3;
          sp.frequency_penalty = 0.2;
        }
        std::vector<std::vector<std::int32_t>> tokens(static_cast<std::size_t>(batch_size));
        std::vector<ScheduledSequence> seqs(static_cast<std::size_t>(batch_size));
        std::vector<const ScheduledSequence*> sampled;
        for (int i = 0; i < batch_size; ++i) {
          std::vector<std::int32_t>& t = tokens[static_cast<std::size_t>(i)];
          t.resize(static_cast<std::size_t>(history));
          for (int k = 0; k < history; ++k)
            t[static_cast<std::size_t>(k)] = (k * 7919 + i * 31) % kVocab;
          ScheduledSequence& s = seqs[static_cast<std::size_t>(i)];
          s.request_id = static_cast<RequestId>(i);
          s.token_ids = t;
          s.num_prompt_tokens = history - kOutputTokens;
          s.num_output_tokens = kOutputTokens;
          s.start_position = history - 1;
          s.num_tokens = 1;
          s.sample = true;
          s.sampling = &sp;
          s.seed = static_cast<std::uint64_t>(i);
          sampled.push_back(&s);
        }
        const std::vector<std::int32_t> history_tables(sampled.size(), 0);
        cuda::DeviceSampleBatch batch;
        double best_us = 1e30;
        for (int rep = 0; rep < 30; ++rep) {
          const auto t = std::chrono::steady_clock::now();
          const cuda::SampleRouting r =
              cuda::route_sampled_rows(sampled, history_tables, true, eos, kVocab, 1 << 24, &batch);
          best_us = std::min(
              best_us,
              std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
          if (r.any_host) {
            std::printf("a row went to the host sampler\n");
            return 1;
          }
        }
        std::printf("%5d %8d %9s %12.1f %10zu\n", batch_size, history, penalties ? "yes" : "no", best_us,
                    batch.edits.size());
      }
    }
  }
  return 0;
}
