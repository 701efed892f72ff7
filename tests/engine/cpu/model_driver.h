// A minimal stand-in for the scheduler in runner tests: owns sequences and
// their block tables (block ids drawn from a shuffled pool, so paging is
// exercised), builds StepPlans, and appends sampled tokens.
#pragma once

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "engine/model_runner.h"

namespace pagoda::testing {

struct DriverSeq {
  RequestId id = 0;
  std::vector<std::int32_t> tokens;
  std::int32_t num_prompt = 0;
  std::int32_t computed = 0;
  std::vector<std::int32_t> blocks;
  SamplingParams sampling;
  std::vector<SampledToken> outputs;
};

class ModelDriver {
 public:
  ModelDriver(ModelRunner& runner, std::uint32_t shuffle_seed) : runner_(runner) {
    KvCacheInfo info = runner.kv_cache_info();
    block_size_ = info.block_size;
    free_.resize(static_cast<std::size_t>(info.num_blocks));
    std::iota(free_.begin(), free_.end(), 0);
    std::shuffle(free_.begin(), free_.end(), std::mt19937(shuffle_seed));
  }

  DriverSeq& add(std::vector<std::int32_t> prompt, SamplingParams sp = greedy()) {
    auto s = std::make_unique<DriverSeq>();
    s->id = next_id_++;
    s->num_prompt = static_cast<std::int32_t>(prompt.size());
    s->tokens = std::move(prompt);
    s->sampling = sp;
    seqs_.push_back(std::move(s));
    return *seqs_.back();
  }

  static SamplingParams greedy() {
    SamplingParams sp;
    sp.temperature = 0;
    sp.max_tokens = 1 << 20;
    return sp;
  }

  // One step in which each listed sequence computes `chunk` more tokens (or all
  // it has left when chunk is 0). Sequences that reach their end sample.
  StatusOr<StepResult> step(const std::vector<std::pair<DriverSeq*, std::int32_t>>& work) {
    StepPlan plan;
    plan.step_id = step_id_++;
    for (auto [s, chunk] : work) {
      std::int32_t left = static_cast<std::int32_t>(s->tokens.size()) - s->computed;
      std::int32_t n = chunk == 0 ? left : std::min(chunk, left);
      std::int32_t need = (s->computed + n + block_size_ - 1) / block_size_;
      while (static_cast<std::int32_t>(s->blocks.size()) < need) {
        s->blocks.push_back(free_.back());
        free_.pop_back();
      }
      ScheduledSequence ss;
      ss.request_id = s->id;
      ss.token_ids = s->tokens;
      ss.num_prompt_tokens = s->num_prompt;
      ss.start_position = s->computed;
      ss.num_tokens = n;
      ss.block_table = s->blocks;
      ss.sample = s->computed + n == static_cast<std::int32_t>(s->tokens.size());
      ss.num_output_tokens = static_cast<std::int32_t>(s->tokens.size()) - s->num_prompt;
      ss.sampling = &s->sampling;
      ss.seed = s->sampling.seed.value_or(1234);
      plan.sequences.push_back(ss);
      plan.num_batched_tokens += n;
    }
    auto result = runner_.run(plan);
    if (!result.ok()) return result;
    std::size_t k = 0;
    for (std::size_t i = 0; i < work.size(); ++i) {
      DriverSeq* s = work[i].first;
      s->computed += plan.sequences[i].num_tokens;
      if (plan.sequences[i].sample) {
        const SampledToken& t = result->sampled[k++];
        s->outputs.push_back(t);
        s->tokens.push_back(t.token_id);
      }
    }
    return result;
  }

  // Prefill (in chunks of `chunk`, 0 = whole) then decode `num_new` tokens, alone.
  std::vector<std::int32_t> generate(DriverSeq& s, int num_new, std::int32_t chunk = 0) {
    while (static_cast<std::int32_t>(s.tokens.size()) - s.computed > 1 || s.outputs.empty()) {
      if (!step({{&s, chunk}}).ok()) return {};
      if (!s.outputs.empty()) break;
    }
    while (static_cast<int>(s.outputs.size()) < num_new) {
      if (!step({{&s, 0}}).ok()) return {};
    }
    return {s.tokens.begin() + s.num_prompt, s.tokens.end()};
  }

 private:
  ModelRunner& runner_;
  std::int32_t block_size_ = 16;
  std::vector<std::int32_t> free_;
  std::vector<std::unique_ptr<DriverSeq>> seqs_;
  RequestId next_id_ = 1;
  std::uint64_t step_id_ = 0;
};

}  // namespace pagoda::testing
