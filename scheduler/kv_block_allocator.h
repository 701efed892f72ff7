// KvBlockAllocator: accounting of the paged KV cache — block ids, reference
// counts, the free pool, and (through PrefixCacheIndex) which blocks hold
// reusable prefixes. Knows nothing of what a block holds on the device.
// Step thread only (owned by the Scheduler).
//
// Every block is in exactly one of three places:
//   in use        ref > 0 (may also be published in the prefix cache)
//   plain free    ref == 0, not cached: handed out first
//   cached free   ref == 0, cached: kept for prefix hits, evicted in LRU order
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "scheduler/block_hash.h"
#include "scheduler/prefix_cache_index.h"

namespace pagoda {

class KvBlockAllocator {
 public:
  KvBlockAllocator(std::int32_t num_blocks, std::int32_t block_size, bool enable_prefix_caching);

  std::int32_t num_blocks() const { return num_blocks_; }
  std::int32_t block_size() const { return block_size_; }
  bool prefix_caching_enabled() const { return prefix_caching_; }
  // Blocks with no reference (plain free + cached free): what allocate() can hand out.
  std::int32_t num_free_blocks() const { return static_cast<std::int32_t>(plain_free_.size()) + num_lru_; }
  std::int32_t num_used_blocks() const { return num_blocks_ - num_free_blocks(); }
  // Blocks published in the prefix cache, in use or not.
  std::int32_t num_cached_blocks() const { return index_.size(); }
  std::int32_t ref_count(std::int32_t block) const { return ref_[static_cast<std::size_t>(block)]; }

  // Predicate / action pair: allocate(n) succeeds exactly when can_allocate(n).
  bool can_allocate(std::int32_t n) const { return n <= num_free_blocks(); }
  // Appends n blocks with ref 1 to `out`: plain free ones first, then cached
  // ones in least-recently-freed order (evicting their prefix entries).
  // All or nothing: false, and nothing changes, when fewer than n are free.
  [[nodiscard]] bool allocate(std::int32_t n, std::vector<std::int32_t>& out);
  // Drops one reference from each block, last first, so that when a
  // sequence's cached blocks are evicted its tail goes before its prefix.
  void free(std::span<const std::int32_t> blocks);

  // --- prefix caching (all no-ops / misses when disabled) ---

  // Appends to `out` the cached blocks matching hashes[0], hashes[1], ...
  // (tokens[i * block_size, (i + 1) * block_size) verified), stopping at the
  // first miss or after max_blocks; takes no references. Returns the count.
  std::int32_t match_prefix(std::span<const BlockHash> hashes, std::span<const std::int32_t> tokens,
                            std::int32_t max_blocks, std::vector<std::int32_t>& out) const;
  // How many of `blocks` have no reference (acquiring them takes them out of the free pool).
  std::int32_t num_unreferenced(std::span<const std::int32_t> blocks) const;
  // Takes one reference to each block (cached blocks found by match_prefix).
  void acquire(std::span<const std::int32_t> blocks);
  // Publishes an in-use, fully computed block as holding `tokens` after the
  // prefix hashed `parent`. False when that content is already cached elsewhere
  // (the block then stays private and is plainly freed).
  bool cache_block(std::int32_t block, BlockHash hash, BlockHash parent,
                   std::span<const std::int32_t> tokens);
  // Unpublishes every block (cached free blocks become plain free).
  void reset_prefix_cache();

  // Every block in exactly one place, counts match, the index is consistent.
  Status check_invariants() const;

 private:
  bool is_cached(std::int32_t block) const { return prefix_caching_ && index_.contains(block); }
  void lru_push_back(std::int32_t block);
  void lru_remove(std::int32_t block);

  std::int32_t num_blocks_;
  std::int32_t block_size_;
  bool prefix_caching_;
  std::vector<std::int32_t> ref_;
  std::vector<std::int32_t> plain_free_;  // a stack; block 0 on top at start
  // Cached free blocks, an intrusive doubly linked list: head = evicted next.
  std::vector<std::int32_t> lru_prev_;
  std::vector<std::int32_t> lru_next_;
  std::int32_t lru_head_ = -1;
  std::int32_t lru_tail_ = -1;
  std::int32_t num_lru_ = 0;
  std::int64_t num_double_frees_ = 0;  // refused frees of unreferenced blocks (bugs)
  PrefixCacheIndex index_;
};

}  // namespace pagoda
