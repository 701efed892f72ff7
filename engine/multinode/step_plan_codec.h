// The wire form of a StepPlan, sent by the leader to the other nodes of a
// tensor-parallel group each step. It carries what the forward pass reads —
// each sequence's new tokens, positions, block table and whether its last
// position is sampled — and no sampling parameters: only the leader samples.
// Pure functions, any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "scheduler/step_plan.h"

namespace pagoda::multinode {

std::string encode_step_plan(const StepPlan& plan);

// A decoded plan and the storage its spans point into (move it, never copy it).
// Each sequence's token_ids spans [0, start_position + num_tokens) but only the
// step's tokens [start_position, ...) are meaningful: the forward pass reads
// nothing else, and the spans of different sequences overlap before that.
// Every sequence samples (when it does) with default greedy parameters.
struct WireStepPlan {
  StepPlan plan;
  std::vector<std::int32_t> tokens;        // backing store of every token_ids span
  std::vector<std::int32_t> block_tables;  // backing store of every block_table span
  std::unique_ptr<SamplingParams> sampling;
};

// Refuses malformed bytes: truncation, trailing bytes, counts that disagree,
// positions at or past max_positions, empty sequences.
[[nodiscard]] StatusOr<WireStepPlan> decode_step_plan(std::string_view bytes, std::int32_t max_positions);

}  // namespace pagoda::multinode
