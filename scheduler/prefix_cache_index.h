// PrefixCacheIndex: which KV blocks hold which full-block prefixes. Maps a
// BlockHash to the block holding it, and keeps each cached block's parent hash
// and tokens so a hit is verified exactly. Open addressing, sized once for the
// whole cache: no allocation after construction. Owned by KvBlockAllocator;
// step thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "scheduler/block_hash.h"

namespace pagoda {

class PrefixCacheIndex {
 public:
  PrefixCacheIndex(std::int32_t num_blocks, std::int32_t block_size);

  // The block holding exactly `tokens` after the prefix hashed `parent`
  // (whose hash is `hash`), or -1.
  std::int32_t find(BlockHash hash, BlockHash parent, std::span<const std::int32_t> tokens) const;

  // Publishes `block` as holding `tokens` (block_size of them) under `hash`.
  // False, and nothing changes, when `hash` is already published (by any
  // block) or `block` already holds a published hash.
  bool insert(std::int32_t block, BlockHash hash, BlockHash parent, std::span<const std::int32_t> tokens);

  // Unpublishes `block`; no-op when it is not cached.
  void erase(std::int32_t block);

  bool contains(std::int32_t block) const { return cached_[static_cast<std::size_t>(block)] != 0; }
  std::int32_t size() const { return size_; }
  void clear();

  // Every slot points at a cached block whose hash is the slot's, every cached
  // block is reachable from its hash, probe chains are unbroken.
  Status check_invariants() const;

 private:
  struct Slot {
    BlockHash hash = 0;
    std::int32_t block = -1;  // -1: empty
  };

  std::size_t home(BlockHash hash) const { return static_cast<std::size_t>(hash) & mask_; }
  std::size_t find_slot(BlockHash hash) const;  // slot holding hash, or slots_.size()

  std::int32_t block_size_;
  std::vector<Slot> slots_;  // power-of-two size >= 2 * num_blocks
  std::size_t mask_;
  std::int32_t size_ = 0;
  // Per block: published or not, its hash, its parent's hash, its tokens.
  std::vector<std::uint8_t> cached_;
  std::vector<BlockHash> hash_;
  std::vector<BlockHash> parent_;
  std::vector<std::int32_t> tokens_;  // [num_blocks, block_size]
};

}  // namespace pagoda
