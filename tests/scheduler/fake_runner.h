// FakeRunner: a deterministic stand-in for ModelRunner in scheduler tests and
// the benchmarks. It keeps a mirror of the KV cache (which token each slot
// holds) and "attends" by reading the history back from the slots, so a wrong
// block table, a bad prefix-cache hit or a lost block changes the output. The
// sampled token is a hash of (seed, output position, history): recompute after
// preemption must reproduce it exactly. One thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "scheduler/step_plan.h"

namespace pagoda::testing {

// The token the fake model samples at output position `position` after `history`.
std::int32_t fake_next_token(std::uint64_t seed, std::int32_t position, std::span<const std::int32_t> history,
                             std::int32_t vocab_size);

// What a request would output alone: tokens until an id in `stop_ids` (once
// min_tokens are out) or max_tokens.
std::vector<std::int32_t> fake_reference_output(std::uint64_t seed, std::span<const std::int32_t> prompt,
                                                std::int32_t max_tokens, std::int32_t min_tokens,
                                                std::span<const std::int32_t> stop_ids,
                                                std::int32_t vocab_size);

class FakeRunner {
 public:
  FakeRunner(std::int32_t num_blocks, std::int32_t block_size, std::int32_t vocab_size);

  // Checks the plan (spans, block coverage, that positions before
  // start_position hold exactly the request's tokens), writes the new tokens'
  // "K/V" and samples. Errors name the request and what was wrong.
  StatusOr<StepResult> run(const StepPlan& plan);

  // With verify off (benchmarks) run() skips the KV mirror and history reads.
  void set_verify(bool verify) { verify_ = verify; }
  std::int64_t num_tokens_computed() const { return num_tokens_computed_; }

 private:
  std::int32_t block_size_;
  std::int32_t vocab_size_;
  bool verify_ = true;
  std::vector<std::int32_t> slots_;  // [num_blocks * block_size], -1 = never written
  std::vector<std::int32_t> history_;
  std::int64_t num_tokens_computed_ = 0;
};

}  // namespace pagoda::testing
