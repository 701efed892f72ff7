// MergeMap: BPE merge rules, (left id, right id) -> (rank, merged id). The
// pair and the rank share one 64-bit slot of an open-addressing table (4 MB
// for Qwen's 151k merges) so a lookup touches one cache line; merged ids sit
// in a rank-indexed array. Built once; const lookups from any thread.
#pragma once

#include <cstdint>
#include <vector>

namespace pagoda {

struct MergeRule {
  std::uint32_t rank;
  std::int32_t merged_id;
};

class MergeMap {
 public:
  static constexpr std::uint32_t kNoRank = 0xFFFFFFFFu;
  // Ids must be below kMaxId and there may be at most kMaxRules rules.
  static constexpr std::int32_t kMaxId = (1 << 20) - 1;
  static constexpr std::size_t kMaxRules = (1u << 24) - 1;

  void reserve(std::size_t num_rules) {
    std::size_t capacity = 16;
    while (capacity < num_rules * 3)
      capacity *= 2;
    slots_.assign(capacity, kEmpty);
    mask_ = capacity - 1;
    merged_.reserve(num_rules);
  }

  // Adds the rule of the next rank; a pair already present keeps its first
  // (lowest) rank, as in HF. reserve() must have been called with room for it.
  void push_back(std::int32_t left, std::int32_t right, std::int32_t merged) {
    const auto rank = static_cast<std::uint32_t>(merged_.size());
    merged_.push_back(merged);
    const std::uint64_t key = pack(left, right);
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      if (slots_[i] == kEmpty) {
        slots_[i] = (key << kRankBits) | rank;
        return;
      }
      if ((slots_[i] >> kRankBits) == key) return;
    }
  }

  // The rule for (left, right), or {kNoRank, -1}.
  MergeRule find(std::int32_t left, std::int32_t right) const {
    const std::uint64_t key = pack(left, right);
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      const std::uint64_t s = slots_[i];
      if ((s >> kRankBits) == key) {
        const auto rank = static_cast<std::uint32_t>(s & kRankMask);
        return {rank, merged_[rank]};
      }
      if (s == kEmpty) return {kNoRank, -1};
    }
  }

 private:
  static constexpr int kRankBits = 24;
  static constexpr std::uint64_t kRankMask = (1ull << kRankBits) - 1;
  static constexpr std::uint64_t kEmpty = ~0ull;  // the pair (kMaxId, kMaxId) never occurs

  static std::uint64_t pack(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 20) |
           static_cast<std::uint32_t>(right);
  }
  std::size_t slot_of(std::uint64_t key) const {
    std::uint64_t h = key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return h & mask_;
  }

  std::vector<std::uint64_t> slots_;
  std::vector<std::int32_t> merged_;  // by rank
  std::size_t mask_ = 0;
};

}  // namespace pagoda
