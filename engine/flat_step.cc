#include "engine/flat_step.h"

#include <algorithm>
#include <string>

namespace pagoda {
namespace {

// Blocks holding a sequence's tokens through this step.
std::int64_t blocks_through_step(const ScheduledSequence& s, std::int32_t block_size) {
  const std::int64_t end = static_cast<std::int64_t>(s.start_position) + s.num_tokens;
  return (end + block_size - 1) / block_size;
}

}  // namespace

StatusOr<FlatStep> flatten_step(const StepPlan& plan, std::int32_t block_size, std::int32_t tile_rows) {
  FlatStep f;
  const auto reserve = static_cast<std::size_t>(std::max(0, plan.num_batched_tokens));
  f.tokens.reserve(reserve);
  f.positions.reserve(reserve);
  f.slot_mapping.reserve(reserve);
  f.block_table_offsets.reserve(reserve);
  f.decode_rows.reserve(plan.sequences.size());
  f.sample_rows.reserve(plan.sequences.size());
  // The tables' size first: grown by appends instead, they took 1.0 ms at 256
  // sequences of 4,096 tokens and 11 ms at 32,768 (6 and 48 us reserved;
  // pagoda_cuda_step_host_bench, docs/performance.md).
  std::size_t table_entries = 0;
  for (const ScheduledSequence& s : plan.sequences)
    table_entries += static_cast<std::size_t>(std::max<std::int64_t>(0, blocks_through_step(s, block_size)));
  f.block_tables.reserve(table_entries);
  for (const ScheduledSequence& s : plan.sequences) {
    const std::int64_t end = static_cast<std::int64_t>(s.start_position) + s.num_tokens;
    const std::int64_t blocks = blocks_through_step(s, block_size);
    if (static_cast<std::int64_t>(s.block_table.size()) < blocks ||
        static_cast<std::int64_t>(s.token_ids.size()) < end) {
      return internal_error("request " + std::to_string(s.request_id) + ": " + std::to_string(end) +
                            " tokens need " + std::to_string(blocks) + " blocks and token ids; it has " +
                            std::to_string(s.block_table.size()) + " blocks and " +
                            std::to_string(s.token_ids.size()) + " ids");
    }
    const auto table_offset = static_cast<std::int32_t>(f.block_tables.size());
    const auto first_row = static_cast<std::int32_t>(f.tokens.size());
    if (s.num_tokens == 1) {
      f.decode_rows.push_back(first_row);
    } else {
      for (std::int32_t i = 0; i < s.num_tokens; i += tile_rows) {
        f.prefill_tiles.push_back(FlatTile{first_row + i, std::min(tile_rows, s.num_tokens - i),
                                           s.start_position + i, table_offset});
      }
    }
    f.block_tables.insert(f.block_tables.end(), s.block_table.begin(), s.block_table.begin() + blocks);
    for (std::int32_t i = 0; i < s.num_tokens; ++i) {
      const std::int32_t pos = s.start_position + i;
      f.tokens.push_back(s.token_ids[static_cast<std::size_t>(pos)]);
      f.positions.push_back(pos);
      f.slot_mapping.push_back(
          static_cast<std::int64_t>(s.block_table[static_cast<std::size_t>(pos / block_size)]) * block_size +
          pos % block_size);
      f.block_table_offsets.push_back(table_offset);
    }
    if (s.sample) f.sample_rows.push_back(static_cast<std::int32_t>(f.tokens.size()) - 1);
    f.max_context = std::max(f.max_context, static_cast<std::int32_t>(end));
  }
  return f;
}

void decode_rows_as_tiles(FlatStep* step) {
  for (const std::int32_t row : step->decode_rows) {
    const auto r = static_cast<std::size_t>(row);
    step->decode_tiles.push_back(FlatTile{row, 1, step->positions[r], step->block_table_offsets[r]});
  }
  step->decode_rows.clear();
}

}  // namespace pagoda
