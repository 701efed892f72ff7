// KvBlockAllocator: all-or-nothing allocation, ref counts, plain-free before
// cached-free, LRU eviction order, double-free detection, and a random-ops
// property test against a simple model.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "scheduler/kv_block_allocator.h"

namespace pagoda {
namespace {

std::vector<std::int32_t> block_tokens(std::int32_t seed, std::int32_t block_size) {
  std::vector<std::int32_t> t;
  for (std::int32_t i = 0; i < block_size; ++i)
    t.push_back(seed * 1000 + i);
  return t;
}

TEST(KvBlockAllocatorTest, AllOrNothing) {
  KvBlockAllocator a(4, 16, true);
  std::vector<std::int32_t> out;
  EXPECT_TRUE(a.can_allocate(4));
  EXPECT_FALSE(a.can_allocate(5));
  EXPECT_FALSE(a.allocate(5, out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(a.num_free_blocks(), 4);
  ASSERT_TRUE(a.allocate(3, out));
  EXPECT_EQ(out, (std::vector<std::int32_t>{0, 1, 2}));
  EXPECT_FALSE(a.allocate(2, out));
  EXPECT_EQ(out.size(), 3u);
  a.free(out);
  EXPECT_EQ(a.num_free_blocks(), 4);
  EXPECT_TRUE(a.check_invariants().ok());
}

TEST(KvBlockAllocatorTest, DoubleFreeIsReported) {
  KvBlockAllocator a(4, 16, false);
  std::vector<std::int32_t> out;
  ASSERT_TRUE(a.allocate(1, out));
  a.free(out);
  a.free(out);
  EXPECT_EQ(a.num_free_blocks(), 4);
  EXPECT_FALSE(a.check_invariants().ok());
}

TEST(KvBlockAllocatorTest, CachedBlocksSurviveUntilEvictedLru) {
  constexpr std::int32_t kBs = 4;
  KvBlockAllocator a(4, kBs, true);
  std::vector<std::int32_t> seq;
  ASSERT_TRUE(a.allocate(3, seq));  // blocks 0, 1, 2
  std::vector<BlockHash> hashes;
  std::vector<std::int32_t> all_tokens;
  BlockHash parent = kRootBlockHash;
  for (std::int32_t i = 0; i < 3; ++i) {
    const auto t = block_tokens(i, kBs);
    all_tokens.insert(all_tokens.end(), t.begin(), t.end());
    hashes.push_back(hash_block_tokens(parent, t));
    ASSERT_TRUE(a.cache_block(seq[static_cast<std::size_t>(i)], hashes.back(), parent, t));
    parent = hashes.back();
  }
  a.free(seq);  // tail first into the LRU: 2, 1, 0
  EXPECT_EQ(a.num_free_blocks(), 4);
  EXPECT_EQ(a.num_cached_blocks(), 3);
  std::vector<std::int32_t> hits;
  EXPECT_EQ(a.match_prefix(hashes, all_tokens, 3, hits), 3);
  EXPECT_EQ(hits, seq);
  // Allocating 2 takes the plain free block 3 first, then evicts block 2 (the tail).
  std::vector<std::int32_t> other;
  ASSERT_TRUE(a.allocate(2, other));
  EXPECT_EQ(other, (std::vector<std::int32_t>{3, 2}));
  hits.clear();
  EXPECT_EQ(a.match_prefix(hashes, all_tokens, 3, hits), 2);
  // A hit takes the cached free blocks out of the free pool.
  EXPECT_EQ(a.num_unreferenced(hits), 2);
  a.acquire(hits);
  EXPECT_EQ(a.num_free_blocks(), 0);
  EXPECT_EQ(a.ref_count(0), 1);
  a.acquire(hits);  // a second sharer
  EXPECT_EQ(a.ref_count(0), 2);
  a.free(hits);
  a.free(hits);
  a.free(other);
  EXPECT_EQ(a.num_free_blocks(), 4);
  EXPECT_TRUE(a.check_invariants().ok());
  a.reset_prefix_cache();
  EXPECT_EQ(a.num_cached_blocks(), 0);
  EXPECT_EQ(a.num_free_blocks(), 4);
  EXPECT_TRUE(a.check_invariants().ok());
}

TEST(KvBlockAllocatorTest, DuplicateContentStaysPrivate) {
  KvBlockAllocator a(4, 2, true);
  std::vector<std::int32_t> x;
  std::vector<std::int32_t> y;
  ASSERT_TRUE(a.allocate(1, x));
  ASSERT_TRUE(a.allocate(1, y));
  const std::vector<std::int32_t> t = {1, 2};
  const BlockHash h = hash_block_tokens(kRootBlockHash, t);
  EXPECT_TRUE(a.cache_block(x[0], h, kRootBlockHash, t));
  EXPECT_FALSE(a.cache_block(y[0], h, kRootBlockHash, t));
  a.free(y);
  a.free(x);
  EXPECT_EQ(a.num_cached_blocks(), 1);
  EXPECT_TRUE(a.check_invariants().ok());
}

TEST(KvBlockAllocatorTest, DisabledCachingNeverHits) {
  KvBlockAllocator a(4, 2, false);
  std::vector<std::int32_t> x;
  ASSERT_TRUE(a.allocate(1, x));
  const std::vector<std::int32_t> t = {1, 2};
  const BlockHash h = hash_block_tokens(kRootBlockHash, t);
  EXPECT_FALSE(a.cache_block(x[0], h, kRootBlockHash, t));
  std::vector<std::int32_t> hits;
  const std::vector<BlockHash> hashes = {h};
  EXPECT_EQ(a.match_prefix(hashes, t, 1, hits), 0);
  a.free(x);
  EXPECT_TRUE(a.check_invariants().ok());
}

// Random allocate / cache / acquire / free against a model of who holds what.
TEST(KvBlockAllocatorTest, RandomOpsKeepInvariants) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    const auto num_blocks = static_cast<std::int32_t>(1 + rng() % 32);
    constexpr std::int32_t kBs = 2;
    KvBlockAllocator a(num_blocks, kBs, seed % 4 != 0);
    std::vector<std::vector<std::int32_t>> holders(8);
    std::map<std::int32_t, std::int32_t> refs;
    for (int op = 0; op < 3000; ++op) {
      auto& h = holders[rng() % holders.size()];
      switch (rng() % 4) {
        case 0: {
          const auto n = static_cast<std::int32_t>(rng() % 5);
          const bool can = a.can_allocate(n);
          const std::size_t before = h.size();
          ASSERT_EQ(a.allocate(n, h), can);
          if (!can) {
            ASSERT_EQ(h.size(), before);
          }
          for (std::size_t i = before; i < h.size(); ++i)
            ASSERT_EQ(refs[h[i]]++, 0);
          break;
        }
        case 1: {
          a.free(h);
          for (std::int32_t b : h)
            --refs[b];
          h.clear();
          break;
        }
        case 2: {
          if (h.empty()) break;
          const std::int32_t b = h[rng() % h.size()];
          const auto v = static_cast<std::int32_t>(rng() % 6);
          const std::vector<std::int32_t> t = {v, v + 1};
          (void)a.cache_block(b, hash_block_tokens(kRootBlockHash, t), kRootBlockHash, t);
          break;
        }
        case 3: {
          const auto v = static_cast<std::int32_t>(rng() % 6);
          const std::vector<std::int32_t> t = {v, v + 1};
          const std::vector<BlockHash> hashes = {hash_block_tokens(kRootBlockHash, t)};
          std::vector<std::int32_t> hits;
          if (a.match_prefix(hashes, t, 1, hits) == 1) {
            a.acquire(hits);
            h.push_back(hits[0]);
            ++refs[hits[0]];
          }
          break;
        }
      }
      std::int32_t used = 0;
      for (const auto& [b, r] : refs) {
        ASSERT_EQ(a.ref_count(b), r) << "block " << b;
        used += r > 0 ? 1 : 0;
      }
      ASSERT_EQ(a.num_used_blocks(), used);
      if (op % 50 == 0) {
        ASSERT_TRUE(a.check_invariants().ok()) << a.check_invariants().to_string();
      }
    }
    for (auto& h : holders)
      a.free(h);
    EXPECT_EQ(a.num_free_blocks(), num_blocks);
    EXPECT_TRUE(a.check_invariants().ok());
  }
}

}  // namespace
}  // namespace pagoda
