#include "engine/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstring>

namespace pagoda {
namespace {

// Pieces up to this many symbols use the array merge loop (quadratic, but a
// vectorised min-scan over at most 256 ranks beats a heap); longer ones use a
// heap over a linked list (n log n), so no piece is slow.
constexpr std::size_t kSmallPiece = 256;

}  // namespace

BpeModel::BpeModel(const TokenTable& table, const std::vector<std::int32_t>& vocab_ids,
                   const std::array<std::int32_t, 256>& byte_ids, const std::vector<MergeIds>& merges,
                   BpeOptions options)
    : table_(&table), byte_ids_(byte_ids), options_(options) {
  auto key_of = [this](std::int32_t id) { return table_->bytes(id); };
  whole_tokens_.build(vocab_ids, key_of);  // ids whose bytes repeat an earlier id's are checked below
  merges_.reserve(merges.size());
  for (const MergeIds& m : merges)
    merges_.push_back(m.left, m.right, m.merged);
  whole_ok_.assign(table.size(), 0);
  std::vector<std::int32_t> result;
  for (const std::int32_t id : vocab_ids) {
    const std::string_view bytes = table.bytes(id);
    max_token_bytes_ = std::max(max_token_bytes_, bytes.size());
    if (whole_tokens_.find(bytes, key_of) != id) continue;  // a duplicate key
    result.clear();
    merge(bytes, result);
    if (options_.ignore_merges || (result.size() == 1 && result[0] == id)) {
      whole_ok_[static_cast<std::size_t>(id)] = 1;
    } else {
      ++num_unreachable_;
    }
  }
}

void BpeModel::encode(std::string_view piece, std::vector<std::int32_t>& out) const {
  if (piece.size() <= max_token_bytes_) {
    const auto id = whole_tokens_.find(piece, [this](std::int32_t i) { return table_->bytes(i); });
    if (id && whole_ok_[static_cast<std::size_t>(*id)]) {
      out.push_back(*id);
      return;
    }
  }
  merge(piece, out);
}

void BpeModel::merge(std::string_view piece, std::vector<std::int32_t>& out) const {
  std::int32_t small[kSmallPiece];
  thread_local std::vector<std::int32_t> large;  // reused across calls
  const bool is_small = piece.size() <= kSmallPiece;
  if (!is_small) large.clear();
  std::size_t n = 0;
  bool previous_unknown = false;
  for (const char ch : piece) {
    std::int32_t id = byte_ids_[static_cast<std::uint8_t>(ch)];
    if (id < 0) {
      if (!options_.unk_id) continue;  // HF drops characters it cannot represent
      if (options_.fuse_unk && previous_unknown) continue;
      id = *options_.unk_id;
      previous_unknown = true;
    } else {
      previous_unknown = false;
    }
    if (is_small) {
      small[n++] = id;
    } else {
      large.push_back(id);
    }
  }
  if (is_small) {
    merge_small(small, n, out);
  } else {
    merge_large(large, out);
  }
}

void BpeModel::merge_small(std::int32_t* ids, std::size_t n, std::vector<std::int32_t>& out) const {
  if (n <= 1) {
    out.insert(out.end(), ids, ids + n);
    return;
  }
  // ranks[k] / merged[k]: the rule for the pair (ids[k], ids[k + 1]).
  std::uint32_t ranks[kSmallPiece];
  std::int32_t merged[kSmallPiece];
  for (std::size_t k = 0; k + 1 < n; ++k) {
    const MergeRule rule = merges_.find(ids[k], ids[k + 1]);
    ranks[k] = rule.rank;
    merged[k] = rule.merged_id;
  }
  std::size_t m = n;
  while (m > 1) {
    // Two passes: the minimum (vectorised), then its leftmost position.
    std::uint32_t best = MergeMap::kNoRank;
    for (std::size_t k = 0; k + 1 < m; ++k)
      best = std::min(best, ranks[k]);
    if (best == MergeMap::kNoRank) break;
    std::size_t at = 0;
    while (ranks[at] != best)
      ++at;
    ids[at] = merged[at];
    const std::size_t tail = m - 2 - at;
    std::memmove(ids + at + 1, ids + at + 2, tail * sizeof(std::int32_t));
    std::memmove(ranks + at, ranks + at + 1, tail * sizeof(std::uint32_t));
    std::memmove(merged + at, merged + at + 1, tail * sizeof(std::int32_t));
    --m;
    if (at > 0) {
      const MergeRule rule = merges_.find(ids[at - 1], ids[at]);
      ranks[at - 1] = rule.rank;
      merged[at - 1] = rule.merged_id;
    }
    if (at + 1 < m) {
      const MergeRule rule = merges_.find(ids[at], ids[at + 1]);
      ranks[at] = rule.rank;
      merged[at] = rule.merged_id;
    }
  }
  out.insert(out.end(), ids, ids + m);
}

void BpeModel::merge_large(const std::vector<std::int32_t>& ids, std::vector<std::int32_t>& out) const {
  const std::size_t n = ids.size();
  if (n <= 1) {
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }
  struct Symbol {
    std::int32_t id;
    std::int32_t prev;
    std::int32_t next;
    bool alive;
  };
  struct Candidate {
    std::uint32_t rank;
    std::uint32_t pos;  // the left symbol
    std::int32_t merged_id;
    // Lowest rank first, then the leftmost position (HF's Merge ordering).
    bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  // Per-thread working memory, reused across calls.
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> storage;
  symbols.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    symbols[i] = Symbol{ids[i], static_cast<std::int32_t>(i) - 1,
                        i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1, true};
  }
  storage.clear();
  auto push_pair = [&](std::int32_t left) {
    const std::int32_t right = symbols[static_cast<std::size_t>(left)].next;
    if (right < 0) return;
    const MergeRule rule =
        merges_.find(symbols[static_cast<std::size_t>(left)].id, symbols[static_cast<std::size_t>(right)].id);
    if (rule.rank == MergeMap::kNoRank) return;
    storage.push_back({rule.rank, static_cast<std::uint32_t>(left), rule.merged_id});
    std::push_heap(storage.begin(), storage.end());
  };
  for (std::size_t i = 0; i + 1 < n; ++i)
    push_pair(static_cast<std::int32_t>(i));
  while (!storage.empty()) {
    std::pop_heap(storage.begin(), storage.end());
    const Candidate top = storage.back();
    storage.pop_back();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[static_cast<std::size_t>(left.next)];
    if (merges_.find(left.id, right.id).merged_id != top.merged_id) continue;  // stale
    left.id = top.merged_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0)
      symbols[static_cast<std::size_t>(right.next)].prev = static_cast<std::int32_t>(top.pos);
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(static_cast<std::int32_t>(top.pos));
  }
  for (std::int32_t i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
    out.push_back(symbols[static_cast<std::size_t>(i)].id);
  }
}

}  // namespace pagoda
