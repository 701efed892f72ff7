// A minimal stand-in for the scheduler in engine benchmarks: sequences with
// deterministic prompts and block tables from a free list; each step computes
// every sequence's pending tokens and appends its sample (greedy unless
// set_sampling says otherwise). Single thread.
#pragma once

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <vector>

#include "engine/model_runner.h"

namespace pagoda::bench {

struct Seq {
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> blocks;
  std::int32_t computed = 0;
  std::int32_t num_prompt = 0;
};

class Driver {
 public:
  explicit Driver(ModelRunner& runner) : runner_(runner), block_size_(runner.kv_cache_info().block_size) {
    sp_.temperature = 0;
    sp_.ignore_eos = true;
    sp_.max_tokens = 1 << 20;
    reset();
  }
  // Every sequence's sampling from now on (ignore_eos and max_tokens kept).
  void set_sampling(const SamplingParams& sp) {
    sp_ = sp;
    sp_.ignore_eos = true;
    sp_.max_tokens = 1 << 20;
  }
  void reset() {
    free_.resize(static_cast<std::size_t>(runner_.kv_cache_info().num_blocks));
    std::iota(free_.rbegin(), free_.rend(), 0);
  }
  // A prompt of `len` ids below min(150000, the model's vocabulary), fixed by `salt`.
  Seq make(std::int32_t len, std::int32_t salt) {
    const std::int64_t ids = std::min(150000, runner_.config().vocab_size);
    Seq s;
    for (std::int32_t i = 0; i < len; ++i)
      s.tokens.push_back(static_cast<std::int32_t>((i * 7919LL + salt * 104729LL) % ids));
    s.num_prompt = len;
    return s;
  }
  // One step: every sequence computes all its pending tokens.
  bool step(std::vector<Seq>& seqs) {
    StepPlan plan;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      Seq& s = seqs[i];
      std::int32_t n = static_cast<std::int32_t>(s.tokens.size()) - s.computed;
      while (static_cast<std::int32_t>(s.blocks.size()) * block_size_ < s.computed + n) {
        if (free_.empty()) return false;
        s.blocks.push_back(free_.back());
        free_.pop_back();
      }
      plan.sequences.push_back(ScheduledSequence{i, s.tokens, s.num_prompt, s.computed, n, s.blocks, true,
                                                 static_cast<std::int32_t>(s.tokens.size()) - s.num_prompt,
                                                 &sp_, 1});
    }
    auto r = runner_.run(plan);
    if (!r.ok()) {
      std::fprintf(stderr, "step failed: %s\n", r.status().to_string().c_str());
      return false;
    }
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      seqs[i].computed = static_cast<std::int32_t>(seqs[i].tokens.size());
      seqs[i].tokens.push_back(r->sampled[i].token_id);
    }
    return true;
  }

 private:
  ModelRunner& runner_;
  std::int32_t block_size_;
  SamplingParams sp_;
  std::vector<std::int32_t> free_;
};

}  // namespace pagoda::bench
