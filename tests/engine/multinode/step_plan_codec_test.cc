#include "engine/multinode/step_plan_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace pagoda::multinode {
namespace {

struct OwnedSeq {
  std::vector<std::int32_t> tokens, blocks;
};

// A plan of decodes and prefill chunks at assorted positions.
StepPlan make_plan(std::vector<OwnedSeq>& owned, const SamplingParams* sp) {
  StepPlan plan;
  plan.step_id = 77;
  const int starts[] = {0, 5, 130, 17, 1};
  const int counts[] = {9, 1, 1, 40, 3};
  owned.resize(5);
  for (int i = 0; i < 5; ++i) {
    OwnedSeq& o = owned[static_cast<std::size_t>(i)];
    for (int t = 0; t < starts[i] + counts[i] + 2; ++t)
      o.tokens.push_back((t * 31 + i) % 1000);
    for (int b = 0; b < (starts[i] + counts[i] + 15) / 16; ++b)
      o.blocks.push_back(b * 7 + i);
    ScheduledSequence s;
    s.request_id = 1000 + static_cast<RequestId>(i);
    s.token_ids = o.tokens;
    s.num_prompt_tokens = starts[i] + 2;
    s.start_position = starts[i];
    s.num_tokens = counts[i];
    s.block_table = o.blocks;
    s.sample = i % 2 == 0;
    s.num_output_tokens = i;
    s.sampling = sp;
    plan.sequences.push_back(s);
    plan.num_batched_tokens += counts[i];
  }
  return plan;
}

TEST(StepPlanCodecTest, RoundTripKeepsWhatTheForwardPassReads) {
  std::vector<OwnedSeq> owned;
  SamplingParams sp;
  sp.temperature = 0.7;
  const StepPlan plan = make_plan(owned, &sp);
  StatusOr<WireStepPlan> got = decode_step_plan(encode_step_plan(plan), 4096);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  const StepPlan& p = got->plan;
  EXPECT_EQ(p.step_id, plan.step_id);
  EXPECT_EQ(p.num_batched_tokens, plan.num_batched_tokens);
  ASSERT_EQ(p.sequences.size(), plan.sequences.size());
  for (std::size_t i = 0; i < p.sequences.size(); ++i) {
    const ScheduledSequence& a = plan.sequences[i];
    const ScheduledSequence& b = p.sequences[i];
    EXPECT_EQ(b.request_id, a.request_id);
    EXPECT_EQ(b.start_position, a.start_position);
    EXPECT_EQ(b.num_tokens, a.num_tokens);
    EXPECT_EQ(b.num_prompt_tokens, a.num_prompt_tokens);
    EXPECT_EQ(b.num_output_tokens, a.num_output_tokens);
    EXPECT_EQ(b.sample, a.sample);
    EXPECT_EQ(std::vector<std::int32_t>(b.block_table.begin(), b.block_table.end()),
              std::vector<std::int32_t>(a.block_table.begin(), a.block_table.end()));
    // The step's tokens sit at the same positions; the span covers them.
    ASSERT_EQ(b.token_ids.size(), static_cast<std::size_t>(a.start_position + a.num_tokens));
    for (int t = a.start_position; t < a.start_position + a.num_tokens; ++t)
      EXPECT_EQ(b.token_ids[static_cast<std::size_t>(t)], a.token_ids[static_cast<std::size_t>(t)]) << i;
    ASSERT_NE(b.sampling, nullptr);
    EXPECT_TRUE(b.sampling->greedy());  // only the leader samples with the real parameters
  }
}

TEST(StepPlanCodecTest, RefusesEveryTruncationAndTrailingBytes) {
  std::vector<OwnedSeq> owned;
  SamplingParams sp;
  const std::string bytes = encode_step_plan(make_plan(owned, &sp));
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(decode_step_plan(std::string_view(bytes).substr(0, n), 4096).ok()) << n;
  EXPECT_FALSE(decode_step_plan(bytes + "x", 4096).ok());
}

TEST(StepPlanCodecTest, RefusesPositionsPastTheModelAndInconsistentCounts) {
  std::vector<OwnedSeq> owned;
  SamplingParams sp;
  StepPlan plan = make_plan(owned, &sp);
  // The furthest token is position 130.
  EXPECT_FALSE(decode_step_plan(encode_step_plan(plan), 130).ok());
  EXPECT_TRUE(decode_step_plan(encode_step_plan(plan), 131).ok());
  plan.num_batched_tokens += 1;
  StatusOr<WireStepPlan> bad = decode_step_plan(encode_step_plan(plan), 4096);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("num_batched_tokens"), std::string::npos);
}

// Found by node_protocol_fuzz (UBSan: memcpy into an empty vector's null
// data()): a sequence with an empty block table decodes cleanly.
TEST(StepPlanCodecTest, EmptyBlockTableDecodes) {
  std::vector<std::int32_t> tokens = {5, 6};
  SamplingParams sp;
  StepPlan plan;
  ScheduledSequence s;
  s.token_ids = tokens;
  s.num_tokens = 2;
  s.sampling = &sp;
  plan.sequences.push_back(s);
  plan.num_batched_tokens = 2;
  StatusOr<WireStepPlan> got = decode_step_plan(encode_step_plan(plan), 16);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got->plan.sequences[0].block_table.empty());
  EXPECT_EQ(got->plan.sequences[0].token_ids[1], 6);
}

// Random byte corruption never crashes the decoder and never yields a plan
// whose spans leave their storage.
TEST(StepPlanCodecTest, CorruptedBytesAreRefusedOrSelfConsistent) {
  std::vector<OwnedSeq> owned;
  SamplingParams sp;
  const std::string bytes = encode_step_plan(make_plan(owned, &sp));
  std::mt19937 rng(3);
  int accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string b = bytes;
    for (int k = 0; k < 3; ++k)
      b[rng() % b.size()] = static_cast<char>(rng());
    StatusOr<WireStepPlan> got = decode_step_plan(b, 4096);
    if (!got.ok()) continue;
    ++accepted;
    std::int32_t total = 0;
    for (const ScheduledSequence& s : got->plan.sequences) {
      ASSERT_GE(s.num_tokens, 1);
      ASSERT_GE(s.start_position, 0);
      ASSERT_EQ(s.token_ids.size(), static_cast<std::size_t>(s.start_position + s.num_tokens));
      ASSERT_GE(s.token_ids.data(), got->tokens.data());
      ASSERT_LE(s.token_ids.data() + s.token_ids.size(), got->tokens.data() + got->tokens.size());
      total += s.num_tokens;
    }
    EXPECT_EQ(total, got->plan.num_batched_tokens);
  }
  EXPECT_GT(accepted, 0);  // corrupting token or block values keeps a valid plan
}

}  // namespace
}  // namespace pagoda::multinode
