// pagoda_cuda_step_host_bench: the step thread's host work before a CUDA
// decode step's launch, per part: validate_step_plan, flatten_step (the
// per-token arrays and every sequence's block table, concatenated) and
// route_sampled_rows (the device sampler's rows and logit edits), the last
// for rows without and with penalties (repetition, presence, frequency: the
// device reads their histories, cuda/row_edits.h, so they should cost the
// same). Sequences decode one token each at the given context, blocks of 16;
// histories hold distinct tokens. Prints the best of 30 calls per part.
//   pagoda_cuda_step_host_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench/bench_sampling.h"
#include "engine/cuda/device_sample_batch.h"
#include "engine/flat_step.h"
#include "engine/step_plan_validation.h"

namespace pagoda {
namespace {

constexpr std::int32_t kVocab = 151936;
constexpr std::int32_t kBlockSize = 16;
constexpr std::int32_t kOutputTokens = 100;

// Best of 30 calls of f, in microseconds; f returns false on failure.
template <class F>
double best_us(F&& f) {
  double best = 1e30;
  for (int rep = 0; rep < 30; ++rep) {
    const auto t = std::chrono::steady_clock::now();
    if (!f()) return -1;
    best = std::min(best,
                    std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
  }
  return best;
}

// One decode step of `batch` sequences at `context` tokens.
struct DecodeStep {
  std::vector<std::vector<std::int32_t>> tokens, tables;
  std::vector<const ScheduledSequence*> sampled;
  std::vector<std::int32_t> history_tables;
  StepPlan plan;

  DecodeStep(int batch, int context, const SamplingParams& sp) {
    tokens.resize(static_cast<std::size_t>(batch));
    tables.resize(static_cast<std::size_t>(batch));
    const int blocks = (context + kBlockSize - 1) / kBlockSize;
    for (int i = 0; i < batch; ++i) {
      std::vector<std::int32_t>& t = tokens[static_cast<std::size_t>(i)];
      t.resize(static_cast<std::size_t>(context));
      for (int k = 0; k < context; ++k)
        t[static_cast<std::size_t>(k)] = (k * 7919 + i * 31) % kVocab;
      std::vector<std::int32_t>& table = tables[static_cast<std::size_t>(i)];
      for (int b = 0; b < blocks; ++b)
        table.push_back(i * blocks + b);
      ScheduledSequence s;
      s.request_id = static_cast<RequestId>(i);
      s.token_ids = t;
      s.num_prompt_tokens = context - kOutputTokens;
      s.num_output_tokens = kOutputTokens;
      s.start_position = context - 1;
      s.num_tokens = 1;
      s.block_table = table;
      s.sample = true;
      s.sampling = &sp;
      s.seed = static_cast<std::uint64_t>(i);
      plan.sequences.push_back(s);
    }
    plan.num_batched_tokens = batch;
    for (const ScheduledSequence& s : plan.sequences)
      sampled.push_back(&s);
    history_tables.assign(sampled.size(), 0);
  }
};

}  // namespace
}  // namespace pagoda

int main() {
  using namespace pagoda;
  const std::vector<std::int32_t> eos = {151645};
  ModelConfig config;
  config.vocab_size = kVocab;
  config.max_position_embeddings = 1 << 20;
  std::printf("%5s %8s | %9s %9s | %14s %14s   (us per step, best of 30)\n", "batch", "context", "validate",
              "flatten", "route (plain)", "route (penal.)");
  bool ok = true;
  for (const int context : {512, 4096, 32768}) {
    for (const int batch : {1, 64, 256}) {
      const SamplingParams plain = bench::chat_sampling(), penalized = bench::penalized_sampling();
      const DecodeStep step(batch, context, plain), penalized_step(batch, context, penalized);
      const KvCacheInfo kv{kBlockSize, batch * ((context + kBlockSize - 1) / kBlockSize), 0};
      const double validate = best_us([&] { return validate_step_plan(step.plan, config, kv).ok(); });
      const double flatten = best_us([&] { return flatten_step(step.plan, kBlockSize).ok(); });
      cuda::DeviceSampleBatch batch_rows;
      auto route = [&](const DecodeStep& s) {
        return best_us([&] {
          const cuda::SampleRouting r =
              cuda::route_sampled_rows(s.sampled, s.history_tables, true, eos, kVocab, 1 << 18, &batch_rows);
          return !r.any_host && batch_rows.rows.size() == s.sampled.size();
        });
      };
      const double route_plain = route(step), route_penalized = route(penalized_step);
      ok = ok && validate >= 0 && flatten >= 0 && route_plain >= 0 && route_penalized >= 0;
      std::printf("%5d %8d | %9.1f %9.1f | %14.1f %14.1f\n", batch, context, validate, flatten, route_plain,
                  route_penalized);
    }
  }
  if (!ok) std::fprintf(stderr, "a part failed (-1 above)\n");
  return ok ? 0 : 1;
}
