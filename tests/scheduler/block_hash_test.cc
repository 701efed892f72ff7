// BlockHash and PrefixCacheIndex: hash sensitivity, exact verification on
// hits, and the open-addressing table against a std::map model under random
// inserts and erases (backward-shift deletion).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "scheduler/block_hash.h"
#include "scheduler/prefix_cache_index.h"

namespace pagoda {
namespace {

TEST(BlockHashTest, SensitiveToParentTokensAndOrder) {
  const std::vector<std::int32_t> a = {1, 2, 3, 4};
  const std::vector<std::int32_t> b = {1, 2, 4, 3};
  const std::vector<std::int32_t> c = {1, 2, 3};
  EXPECT_EQ(hash_block_tokens(kRootBlockHash, a), hash_block_tokens(kRootBlockHash, a));
  EXPECT_NE(hash_block_tokens(kRootBlockHash, a), hash_block_tokens(kRootBlockHash, b));
  EXPECT_NE(hash_block_tokens(kRootBlockHash, a), hash_block_tokens(kRootBlockHash, c));
  EXPECT_NE(hash_block_tokens(kRootBlockHash, a), hash_block_tokens(kRootBlockHash + 1, a));
}

TEST(BlockHashTest, NoCollisionsOnNearbyBlocks) {
  // 200k blocks differing in one token, position or parent: all distinct.
  std::set<BlockHash> seen;
  std::vector<std::int32_t> t(16, 0);
  for (int parent = 0; parent < 50; ++parent) {
    for (int pos = 0; pos < 16; ++pos) {
      for (int v = 0; v < 250; ++v) {
        t.assign(16, 7);
        t[static_cast<std::size_t>(pos)] = v;
        seen.insert(hash_block_tokens(static_cast<BlockHash>(parent), t));
      }
    }
  }
  // Blocks with v == 7 are the same at every position: 50 * (16 * 249 + 1).
  EXPECT_EQ(seen.size(), 50u * (16u * 249u + 1u));
}

TEST(PrefixCacheIndexTest, FindVerifiesParentAndTokens) {
  PrefixCacheIndex index(8, 4);
  const std::vector<std::int32_t> t = {5, 6, 7, 8};
  const BlockHash h = hash_block_tokens(kRootBlockHash, t);
  ASSERT_TRUE(index.insert(3, h, kRootBlockHash, t));
  EXPECT_EQ(index.find(h, kRootBlockHash, t), 3);
  // Same hash, other tokens or parent (a forged collision): a miss.
  EXPECT_EQ(index.find(h, kRootBlockHash, std::vector<std::int32_t>{5, 6, 7, 9}), -1);
  EXPECT_EQ(index.find(h, 42, t), -1);
  // One hash, one block; one block, one hash.
  EXPECT_FALSE(index.insert(4, h, kRootBlockHash, t));
  EXPECT_FALSE(index.insert(3, h + 1, kRootBlockHash, t));
  index.erase(3);
  EXPECT_EQ(index.find(h, kRootBlockHash, t), -1);
  EXPECT_TRUE(index.check_invariants().ok());
}

TEST(PrefixCacheIndexTest, RandomOpsMatchModel) {
  constexpr std::int32_t kBlocks = 64;
  PrefixCacheIndex index(kBlocks, 2);
  std::map<BlockHash, std::int32_t> model;  // hash -> block
  std::map<std::int32_t, BlockHash> by_block;
  std::mt19937_64 rng(7);
  for (int op = 0; op < 200000; ++op) {
    const auto block = static_cast<std::int32_t>(rng() % kBlocks);
    // Few distinct hashes with shared low bits: long probe chains and wraparound.
    const BlockHash hash = (rng() % 96) * 128 + (rng() % 2);
    const std::vector<std::int32_t> tokens = {static_cast<std::int32_t>(hash), 1};
    if (rng() % 2 == 0) {
      const bool expect = !model.contains(hash) && !by_block.contains(block);
      ASSERT_EQ(index.insert(block, hash, 0, tokens), expect);
      if (expect) {
        model[hash] = block;
        by_block[block] = hash;
      }
    } else {
      index.erase(block);
      if (auto it = by_block.find(block); it != by_block.end()) {
        model.erase(it->second);
        by_block.erase(it);
      }
    }
    if (op % 1000 == 0) {
      ASSERT_TRUE(index.check_invariants().ok()) << index.check_invariants().to_string();
      for (const auto& [h, b] : model) {
        ASSERT_EQ(index.find(h, 0, std::vector<std::int32_t>{static_cast<std::int32_t>(h), 1}), b);
      }
    }
    ASSERT_EQ(index.size(), static_cast<std::int32_t>(model.size()));
  }
}

}  // namespace
}  // namespace pagoda
