#include "engine/flat_step.h"

#include <gtest/gtest.h>

namespace pagoda {
namespace {

ScheduledSequence seq(RequestId id, const std::vector<std::int32_t>& tokens, std::int32_t start,
                      std::int32_t n, const std::vector<std::int32_t>& table, bool sample,
                      const SamplingParams& sp) {
  ScheduledSequence s;
  s.request_id = id;
  s.token_ids = tokens;
  s.start_position = start;
  s.num_tokens = n;
  s.block_table = table;
  s.sample = sample;
  s.sampling = &sp;
  return s;
}

TEST(FlatStepTest, FlattensMixedDecodeAndPrefillChunks) {
  SamplingParams sp;
  const std::vector<std::int32_t> a = {10, 11, 12, 13, 14};  // decode of position 4
  const std::vector<std::int32_t> b = {20, 21, 22, 23, 24, 25, 26};
  const std::vector<std::int32_t> table_a = {7, 3, 9};  // 3 blocks; position 4 is in block 1 (id 3)
  const std::vector<std::int32_t> table_b = {5, 1, 8, 2};
  StepPlan plan;
  plan.sequences.push_back(seq(1, a, 4, 1, table_a, true, sp));
  plan.sequences.push_back(seq(2, b, 2, 3, table_b, false, sp));  // chunk of positions 2..4
  plan.num_batched_tokens = 4;
  StatusOr<FlatStep> f = flatten_step(plan, 3);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->tokens, (std::vector<std::int32_t>{14, 22, 23, 24}));
  EXPECT_EQ(f->positions, (std::vector<std::int32_t>{4, 2, 3, 4}));
  // slot = table[pos / 3] * 3 + pos % 3
  EXPECT_EQ(f->slot_mapping, (std::vector<std::int64_t>{3 * 3 + 1, 5 * 3 + 2, 1 * 3 + 0, 1 * 3 + 1}));
  // Only the blocks each sequence's tokens reach: a needs 2 of 3, b needs 2 of 4.
  EXPECT_EQ(f->block_tables, (std::vector<std::int32_t>{7, 3, 5, 1}));
  EXPECT_EQ(f->block_table_offsets, (std::vector<std::int32_t>{0, 2, 2, 2}));
  EXPECT_EQ(f->sample_rows, (std::vector<std::int32_t>{0}));
  EXPECT_EQ(f->max_context, 5);
  EXPECT_EQ(f->decode_rows, (std::vector<std::int32_t>{0}));
  ASSERT_EQ(f->prefill_tiles.size(), 1u);
  EXPECT_EQ(f->prefill_tiles[0].first_row, 1);
  EXPECT_EQ(f->prefill_tiles[0].num_rows, 3);
  EXPECT_EQ(f->prefill_tiles[0].first_position, 2);
  EXPECT_EQ(f->prefill_tiles[0].block_table_offset, 2);
}

TEST(FlatStepTest, DecodeRowsBecomeOneRowTiles) {
  SamplingParams sp;
  const std::vector<std::int32_t> a = {10, 11, 12, 13, 14};
  const std::vector<std::int32_t> b = {20, 21, 22, 23, 24, 25, 26};
  const std::vector<std::int32_t> c = {30, 31, 32};
  // Block tables outlive the plan, whose sequences view them.
  const std::vector<std::int32_t> table_a = {7, 3}, table_b = {5, 1}, table_c = {6};
  StepPlan plan;
  plan.sequences.push_back(seq(1, a, 4, 1, table_a, true, sp));   // decode at position 4
  plan.sequences.push_back(seq(2, b, 2, 3, table_b, false, sp));  // chunk of positions 2..4
  plan.sequences.push_back(seq(3, c, 2, 1, table_c, true, sp));   // decode at position 2
  plan.num_batched_tokens = 5;
  StatusOr<FlatStep> f = flatten_step(plan, 3);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  decode_rows_as_tiles(&*f);
  EXPECT_TRUE(f->decode_rows.empty());
  ASSERT_EQ(f->prefill_tiles.size(), 1u);  // the chunk's tile stays
  EXPECT_EQ(f->prefill_tiles[0].first_row, 1);
  EXPECT_EQ(f->prefill_tiles[0].num_rows, 3);
  ASSERT_EQ(f->decode_tiles.size(), 2u);
  const FlatTile want[] = {{0, 1, 4, 0}, {4, 1, 2, 4}};
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(f->decode_tiles[i].first_row, want[i].first_row) << i;
    EXPECT_EQ(f->decode_tiles[i].num_rows, want[i].num_rows) << i;
    EXPECT_EQ(f->decode_tiles[i].first_position, want[i].first_position) << i;
    EXPECT_EQ(f->decode_tiles[i].block_table_offset, want[i].block_table_offset) << i;
  }
}

TEST(FlatStepTest, LongChunksSplitIntoTiles) {
  SamplingParams sp;
  std::vector<std::int32_t> tokens(150, 7);
  std::vector<std::int32_t> table(10);
  for (int i = 0; i < 10; ++i)
    table[static_cast<std::size_t>(i)] = 9 - i;
  StepPlan plan;
  plan.sequences.push_back(seq(1, tokens, 10, 140, table, true, sp));  // positions 10..149
  StatusOr<FlatStep> f = flatten_step(plan, 16, 64);
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->prefill_tiles.size(), 3u);  // 64 + 64 + 12 rows
  EXPECT_EQ(f->prefill_tiles[1].first_row, 64);
  EXPECT_EQ(f->prefill_tiles[1].first_position, 74);
  EXPECT_EQ(f->prefill_tiles[2].num_rows, 12);
  EXPECT_TRUE(f->decode_rows.empty());
}

TEST(FlatStepTest, ShortBlockTableIsAnError) {
  SamplingParams sp;
  const std::vector<std::int32_t> a = {1, 2, 3, 4, 5};
  const std::vector<std::int32_t> table = {0};
  StepPlan plan;
  plan.sequences.push_back(seq(9, a, 0, 5, table, true, sp));
  StatusOr<FlatStep> f = flatten_step(plan, 4);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("request 9"), std::string::npos) << f.status().to_string();
}

}  // namespace
}  // namespace pagoda
