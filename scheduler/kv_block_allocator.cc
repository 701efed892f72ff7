#include "scheduler/kv_block_allocator.h"

#include <string>

namespace pagoda {

KvBlockAllocator::KvBlockAllocator(std::int32_t num_blocks, std::int32_t block_size,
                                   bool enable_prefix_caching)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      prefix_caching_(enable_prefix_caching),
      ref_(static_cast<std::size_t>(num_blocks), 0),
      lru_prev_(static_cast<std::size_t>(num_blocks), -1),
      lru_next_(static_cast<std::size_t>(num_blocks), -1),
      index_(enable_prefix_caching ? num_blocks : 1, block_size) {
  plain_free_.reserve(static_cast<std::size_t>(num_blocks));
  for (std::int32_t b = num_blocks - 1; b >= 0; --b)
    plain_free_.push_back(b);
}

void KvBlockAllocator::lru_push_back(std::int32_t block) {
  const auto b = static_cast<std::size_t>(block);
  lru_prev_[b] = lru_tail_;
  lru_next_[b] = -1;
  if (lru_tail_ >= 0) {
    lru_next_[static_cast<std::size_t>(lru_tail_)] = block;
  } else {
    lru_head_ = block;
  }
  lru_tail_ = block;
  ++num_lru_;
}

void KvBlockAllocator::lru_remove(std::int32_t block) {
  const auto b = static_cast<std::size_t>(block);
  const std::int32_t prev = lru_prev_[b];
  const std::int32_t next = lru_next_[b];
  if (prev >= 0) {
    lru_next_[static_cast<std::size_t>(prev)] = next;
  } else {
    lru_head_ = next;
  }
  if (next >= 0) {
    lru_prev_[static_cast<std::size_t>(next)] = prev;
  } else {
    lru_tail_ = prev;
  }
  lru_prev_[b] = -1;
  lru_next_[b] = -1;
  --num_lru_;
}

bool KvBlockAllocator::allocate(std::int32_t n, std::vector<std::int32_t>& out) {
  if (n < 0 || !can_allocate(n)) return false;
  for (std::int32_t i = 0; i < n; ++i) {
    std::int32_t block;
    if (!plain_free_.empty()) {
      block = plain_free_.back();
      plain_free_.pop_back();
    } else {
      // cached free -> in use (evicted: its prefix entry goes)
      block = lru_head_;
      lru_remove(block);
      index_.erase(block);
    }
    ref_[static_cast<std::size_t>(block)] = 1;
    out.push_back(block);
  }
  return true;
}

void KvBlockAllocator::free(std::span<const std::int32_t> blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    const std::int32_t block = *it;
    std::int32_t& ref = ref_[static_cast<std::size_t>(block)];
    if (ref <= 0) {
      // A double free is a scheduler bug: refuse it (the pools stay consistent)
      // and let check_invariants() report it.
      ++num_double_frees_;
      continue;
    }
    if (--ref > 0) continue;
    if (is_cached(block)) {
      lru_push_back(block);  // in use -> cached free
    } else {
      plain_free_.push_back(block);  // in use -> plain free
    }
  }
}

std::int32_t KvBlockAllocator::match_prefix(std::span<const BlockHash> hashes,
                                            std::span<const std::int32_t> tokens, std::int32_t max_blocks,
                                            std::vector<std::int32_t>& out) const {
  if (!prefix_caching_) return 0;
  std::int32_t n = 0;
  const auto bs = static_cast<std::size_t>(block_size_);
  BlockHash parent = kRootBlockHash;
  for (std::size_t i = 0; n < max_blocks && i < hashes.size() && (i + 1) * bs <= tokens.size(); ++i) {
    const std::int32_t block = index_.find(hashes[i], parent, tokens.subspan(i * bs, bs));
    if (block < 0) break;
    out.push_back(block);
    parent = hashes[i];
    ++n;
  }
  return n;
}

std::int32_t KvBlockAllocator::num_unreferenced(std::span<const std::int32_t> blocks) const {
  std::int32_t n = 0;
  for (std::int32_t b : blocks)
    n += ref_[static_cast<std::size_t>(b)] == 0 ? 1 : 0;
  return n;
}

void KvBlockAllocator::acquire(std::span<const std::int32_t> blocks) {
  for (std::int32_t block : blocks) {
    std::int32_t& ref = ref_[static_cast<std::size_t>(block)];
    if (ref == 0) lru_remove(block);  // cached free -> in use (a prefix hit)
    ++ref;
  }
}

bool KvBlockAllocator::cache_block(std::int32_t block, BlockHash hash, BlockHash parent,
                                   std::span<const std::int32_t> tokens) {
  if (!prefix_caching_ || ref_[static_cast<std::size_t>(block)] <= 0) return false;
  return index_.insert(block, hash, parent, tokens);
}

void KvBlockAllocator::reset_prefix_cache() {
  while (lru_head_ >= 0) {
    const std::int32_t block = lru_head_;
    lru_remove(block);
    plain_free_.push_back(block);  // cached free -> plain free
  }
  index_.clear();
}

Status KvBlockAllocator::check_invariants() const {
  auto fail = [](const std::string& what) { return internal_error("kv block allocator: " + what); };
  // 0 = unseen, 1 = plain free, 2 = cached free.
  std::vector<std::uint8_t> where(static_cast<std::size_t>(num_blocks_), 0);
  for (std::int32_t b : plain_free_) {
    if (b < 0 || b >= num_blocks_) return fail("plain free list holds bad id " + std::to_string(b));
    const auto i = static_cast<std::size_t>(b);
    if (where[i] != 0) return fail("block " + std::to_string(b) + " is in the plain free list twice");
    if (ref_[i] != 0) return fail("free block " + std::to_string(b) + " has ref " + std::to_string(ref_[i]));
    if (is_cached(b)) return fail("plain free block " + std::to_string(b) + " is cached");
    where[i] = 1;
  }
  std::int32_t n = 0;
  std::int32_t prev = -1;
  for (std::int32_t b = lru_head_; b >= 0; b = lru_next_[static_cast<std::size_t>(b)]) {
    if (b >= num_blocks_ || ++n > num_blocks_) return fail("LRU list is corrupt");
    const auto i = static_cast<std::size_t>(b);
    if (where[i] != 0) return fail("block " + std::to_string(b) + " is free twice");
    if (lru_prev_[i] != prev) return fail("LRU back link broken at block " + std::to_string(b));
    if (ref_[i] != 0) return fail("cached free block " + std::to_string(b) + " has a reference");
    if (!is_cached(b)) return fail("LRU block " + std::to_string(b) + " is not cached");
    where[i] = 2;
    prev = b;
  }
  if (prev != lru_tail_ || n != num_lru_) return fail("LRU tail or count is wrong");
  for (std::int32_t b = 0; b < num_blocks_; ++b) {
    const auto i = static_cast<std::size_t>(b);
    if (where[i] == 0 && ref_[i] <= 0) {
      return fail("block " + std::to_string(b) + " has ref " + std::to_string(ref_[i]) +
                  " but is not free (leak)");
    }
  }
  if (num_double_frees_ != 0) return fail(std::to_string(num_double_frees_) + " double frees");
  if (!prefix_caching_ && index_.size() != 0) return fail("prefix caching is off but blocks are cached");
  return index_.check_invariants();
}

}  // namespace pagoda
