#include "scheduler/prefix_cache_index.h"

#include <algorithm>
#include <string>

namespace pagoda {

PrefixCacheIndex::PrefixCacheIndex(std::int32_t num_blocks, std::int32_t block_size)
    : block_size_(block_size) {
  std::size_t capacity = 16;
  while (capacity < 2 * static_cast<std::size_t>(num_blocks))
    capacity *= 2;
  slots_.resize(capacity);
  mask_ = capacity - 1;
  const auto n = static_cast<std::size_t>(num_blocks);
  cached_.assign(n, 0);
  hash_.assign(n, 0);
  parent_.assign(n, 0);
  tokens_.assign(n * static_cast<std::size_t>(block_size), 0);
}

std::size_t PrefixCacheIndex::find_slot(BlockHash hash) const {
  for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.block < 0) return slots_.size();
    if (s.hash == hash) return i;
  }
}

std::int32_t PrefixCacheIndex::find(BlockHash hash, BlockHash parent,
                                    std::span<const std::int32_t> tokens) const {
  const std::size_t i = find_slot(hash);
  if (i == slots_.size()) return -1;
  const std::int32_t block = slots_[i].block;
  const auto b = static_cast<std::size_t>(block);
  if (parent_[b] != parent || tokens.size() != static_cast<std::size_t>(block_size_)) return -1;
  if (!std::equal(tokens.begin(), tokens.end(),
                  tokens_.begin() + static_cast<std::ptrdiff_t>(b * tokens.size()))) {
    return -1;  // a 64-bit collision: treat as a miss
  }
  return block;
}

bool PrefixCacheIndex::insert(std::int32_t block, BlockHash hash, BlockHash parent,
                              std::span<const std::int32_t> tokens) {
  const auto b = static_cast<std::size_t>(block);
  if (cached_[b] != 0 || tokens.size() != static_cast<std::size_t>(block_size_)) return false;
  std::size_t i = home(hash);
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].block < 0) break;
    if (slots_[i].hash == hash) return false;
  }
  slots_[i] = Slot{hash, block};
  cached_[b] = 1;
  hash_[b] = hash;
  parent_[b] = parent;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(b * tokens.size()));
  ++size_;
  return true;
}

void PrefixCacheIndex::erase(std::int32_t block) {
  const auto b = static_cast<std::size_t>(block);
  if (cached_[b] == 0) return;
  cached_[b] = 0;
  std::size_t i = find_slot(hash_[b]);
  --size_;
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
    if (slots_[j].block < 0) break;
    const std::size_t h = home(slots_[j].hash);
    // Move slot j into the hole at i when its home is not in (i, j] (cyclically).
    const bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = Slot{};
}

void PrefixCacheIndex::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  std::fill(cached_.begin(), cached_.end(), std::uint8_t{0});
  size_ = 0;
}

Status PrefixCacheIndex::check_invariants() const {
  std::int32_t num_slots_used = 0;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.block < 0) continue;
    ++num_slots_used;
    const auto b = static_cast<std::size_t>(s.block);
    if (b >= cached_.size() || cached_[b] == 0 || hash_[b] != s.hash) {
      return internal_error("prefix cache: slot " + std::to_string(i) + " names block " +
                            std::to_string(s.block) + " which is not cached under its hash");
    }
    if (find_slot(s.hash) != i) {
      return internal_error("prefix cache: block " + std::to_string(s.block) + " unreachable from its hash");
    }
  }
  const auto num_cached =
      static_cast<std::int32_t>(std::count(cached_.begin(), cached_.end(), std::uint8_t{1}));
  if (num_slots_used != size_ || num_cached != size_) {
    return internal_error("prefix cache: size " + std::to_string(size_) + " but " +
                          std::to_string(num_slots_used) + " slots and " + std::to_string(num_cached) +
                          " cached blocks");
  }
  return ok_status();
}

}  // namespace pagoda
