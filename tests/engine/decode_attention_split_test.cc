// How decode rows' contexts are split for the split-KV attention kernel: about
// two blocks per SM for small batches, no split for large ones, never a split
// under kMinDecodeSplitSize positions or more than the workspace holds, and
// the splits always cover the longest context (rounding may leave the last one
// empty: its blocks exit at once).
#include "engine/cuda/decode_attention_split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace pagoda::cuda {
namespace {

constexpr int kSms = 132;                 // an H100 / H200
constexpr std::int64_t kRoomy = 1 << 20;  // a workspace that never binds

TEST(DecodeAttentionSplitTest, SmallBatchesFillTheSmsLargeOnesAreNotSplit) {
  // Batch 1, 8 KV heads: 8 blocks unsplit; 33 splits make 264, two per SM.
  EXPECT_EQ(decode_attention_splits(1, 8, 4096, kSms, kRoomy), 33);
  EXPECT_EQ(decode_split_size(4096, 33), 125);
  // Batch 16: 128 blocks; three splits make 384, the fewest reaching 264.
  EXPECT_EQ(decode_attention_splits(16, 8, 4096, kSms, kRoomy), 3);
  // Batch 64: 512 blocks already, one split of the whole context.
  EXPECT_EQ(decode_attention_splits(64, 8, 4096, kSms, kRoomy), 1);
  EXPECT_EQ(decode_split_size(4096, 1), 4096);
  // No rows: one split (the grid's extent is never 0).
  EXPECT_EQ(decode_attention_splits(0, 8, 4096, kSms, kRoomy), 1);
}

TEST(DecodeAttentionSplitTest, ShortContextsAndTheWorkspaceLimitTheSplits) {
  // 100 positions make two splits of at least 64, not 33 of three.
  EXPECT_EQ(decode_attention_splits(1, 8, 100, kSms, kRoomy), 2);
  EXPECT_EQ(decode_split_size(100, 2), 64);
  EXPECT_EQ(decode_attention_splits(1, 8, 1, kSms, kRoomy), 1);
  EXPECT_EQ(decode_split_size(1, 1), 64);
  // The workspace holds 40 (row, split) pairs: 4 rows get 10 splits each.
  EXPECT_EQ(decode_attention_splits(4, 1, 8000, kSms, 40), 10);
}

TEST(DecodeAttentionSplitTest, InvariantDecodeSplitsRunApartOnlyForSmallBatches) {
  // 8B at tp 1: 32 heads, 4 a tile, 80 splits of 512 in 40,960 positions.
  // Batch 1: 8 CTAs; 33 grid rows make 264, two per SM.
  EXPECT_EQ(invariant_decode_split_slots(1, 1, 32, 4, 80, kSms, kRoomy), 33);
  // Batch 8: 64 CTAs, 5 rows make 320. Batch 17: 136 CTAs fill the SMs alone.
  EXPECT_EQ(invariant_decode_split_slots(8, 8, 32, 4, 80, kSms, kRoomy), 5);
  EXPECT_EQ(invariant_decode_split_slots(17, 17, 32, 4, 80, kSms, kRoomy), 0);
  // Never more grid rows than splits; nothing to spread with one split.
  EXPECT_EQ(invariant_decode_split_slots(1, 1, 32, 4, 8, kSms, kRoomy), 8);
  EXPECT_EQ(invariant_decode_split_slots(1, 1, 32, 4, 1, kSms, kRoomy), 0);
  // The workspace holds a partial per (row, split): 80 rows x 80 splits do not fit 4,096.
  EXPECT_EQ(invariant_decode_split_slots(80, 1, 32, 4, 80, kSms, 4096), 0);
  EXPECT_EQ(invariant_decode_split_slots(51, 1, 32, 4, 80, kSms, 4096), 33);
}

TEST(DecodeAttentionSplitTest, SplitsCoverTheLongestContext) {
  for (const std::int64_t rows : {1, 2, 3, 7, 17, 64, 300}) {
    for (const std::int64_t kv_heads : {1, 2, 8}) {
      for (const std::int64_t ctx : {1, 63, 64, 65, 97, 1000, 4000, 40960}) {
        SCOPED_TRACE(std::to_string(rows) + " rows, " + std::to_string(kv_heads) + " KV heads, context " +
                     std::to_string(ctx));
        const std::int64_t splits = decode_attention_splits(rows, kv_heads, ctx, kSms, 4096);
        const std::int32_t size = decode_split_size(ctx, splits);
        EXPECT_GE(splits, 1);
        EXPECT_LE(rows * splits, std::max<std::int64_t>(4096, rows));
        EXPECT_GE(size, kMinDecodeSplitSize);
        EXPECT_GE(splits * size, ctx);
      }
    }
  }
}

}  // namespace
}  // namespace pagoda::cuda
