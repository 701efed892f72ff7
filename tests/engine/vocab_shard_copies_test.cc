// The layout rank 0 gives the gathered logits: each shard's columns land on
// its own tokens (RankShard's vocab_begin and vocab_size), the copies tile the
// vocabulary exactly once, and each reads its own shard of the all-gather.
#include "engine/cuda/vocab_shard_copies.h"

#include <gtest/gtest.h>

#include "engine/cpu/cpu_weights.h"
#include "engine/model/model_preset.h"

namespace pagoda::cuda {
namespace {

TEST(VocabShardCopiesTest, ShardsLandOnTheirTokensAndTileTheVocabulary) {
  ModelConfig c = model_preset("tiny").value();
  for (const std::int64_t vocab : {509, 512, 151936, 3}) {
    c.vocab_size = static_cast<std::int32_t>(vocab);
    for (int tp : {1, 2, 3, 4, 7, 8}) {
      SCOPED_TRACE("vocab " + std::to_string(vocab) + ", tp " + std::to_string(tp));
      StatusOr<cpu::RankShard> first = cpu::RankShard::make(c, 0, tp);
      if (!first.ok()) continue;  // heads that do not split over tp
      const std::int64_t vp = first->vocab_padded, rows = 5;
      const std::vector<ShardCopy> copies = vocab_shard_copies(vocab, vp, tp, rows);
      std::vector<int> covered(static_cast<std::size_t>(vocab), 0);
      std::size_t k = 0;
      for (int r = 0; r < tp; ++r) {
        const cpu::RankShard s = cpu::RankShard::make(c, r, tp).value();
        if (s.vocab_size == 0) continue;
        ASSERT_LT(k, copies.size());
        const ShardCopy& cp = copies[k++];
        EXPECT_EQ(cp.dst_column, s.vocab_begin);
        EXPECT_EQ(cp.width, s.vocab_size);
        EXPECT_EQ(cp.src_offset, r * rows * vp);
        EXPECT_LE(cp.dst_column + cp.width, tp * vp);  // inside a row of logits_stride()
        for (std::int64_t t = cp.dst_column; t < cp.dst_column + cp.width; ++t)
          ++covered[static_cast<std::size_t>(t)];
      }
      EXPECT_EQ(k, copies.size());
      for (std::int64_t t = 0; t < vocab; ++t)
        ASSERT_EQ(covered[static_cast<std::size_t>(t)], 1) << "token " << t;
    }
  }
}

}  // namespace
}  // namespace pagoda::cuda
