// FlatStep: a StepPlan flattened into per-token index arrays, the form device
// kernels read (FlashInfer-style plain arrays instead of per-sequence objects):
// one row per computed token, every sequence's block table concatenated, and
// the cache slot each new token's K/V goes to. Pure host code; built on the
// step thread.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "scheduler/step_plan.h"

namespace pagoda {

// Up to tile_rows consecutive rows of one sequence at consecutive positions
// (row first_row + i is at position first_position + i): the unit of work of a
// tiled prefill attention kernel. Four int32s, laid out as the kernel reads them.
struct FlatTile {
  std::int32_t first_row = 0;
  std::int32_t num_rows = 0;
  std::int32_t first_position = 0;
  std::int32_t block_table_offset = 0;
};

struct FlatStep {
  std::vector<std::int32_t> tokens;               // [num_tokens] token ids
  std::vector<std::int32_t> positions;            // [num_tokens] absolute positions
  std::vector<std::int64_t> slot_mapping;         // [num_tokens] block id * block_size + offset
  std::vector<std::int32_t> block_table_offsets;  // [num_tokens] start of its sequence's table
  std::vector<std::int32_t> block_tables;         // used blocks of each sequence, concatenated
  std::vector<std::int32_t> sample_rows;          // token row of each sampled sequence, plan order
  std::int32_t max_context = 0;                   // longest position + 1 of any token
  // Attention work split by kind: rows of sequences computing one token
  // (decodes), and tiles of sequences computing several (prefill chunks).
  std::vector<std::int32_t> decode_rows;
  std::vector<FlatTile> prefill_tiles;
  // Decode rows as one-token tiles (decode_rows_as_tiles); empty otherwise.
  std::vector<FlatTile> decode_tiles;

  std::int64_t num_tokens() const { return static_cast<std::int64_t>(tokens.size()); }
};

// Flattens `plan`; only the blocks a sequence's tokens reach are copied.
// Prefill tiles hold at most tile_rows rows. Errors (internal) name the
// request whose block table is too short.
StatusOr<FlatStep> flatten_step(const StepPlan& plan, std::int32_t block_size, std::int32_t tile_rows = 64);

// Moves every decode row into a one-token tile of decode_tiles, in row order
// (decode_rows becomes empty), so that one attention kernel computes every
// token of the step: a token's attention then never depends on whether it came
// as a decode or inside a prefill chunk (the CUDA backend's batch-invariant
// mode, which packs a decode tile's query heads into one CTA).
void decode_rows_as_tiles(FlatStep* step);

}  // namespace pagoda
