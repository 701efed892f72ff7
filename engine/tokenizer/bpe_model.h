// BpeModel: byte-level BPE over one pre-tokenized piece, as HF tokenizers'
// BPE model with ignore_merges=false does it (lowest merge rank first, the
// leftmost on ties). Pieces that are themselves a token BPE reproduces are
// looked up directly. Immutable after construction; any thread may encode.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/tokenizer/merge_map.h"
#include "engine/tokenizer/token_map.h"
#include "engine/tokenizer/token_table.h"

namespace pagoda {

struct BpeOptions {
  std::optional<std::int32_t> unk_id;  // for bytes with no token; else they are dropped
  bool fuse_unk = false;               // consecutive unknowns become one unk
  bool ignore_merges = false;          // a piece that is in the vocabulary is taken whole
};

// A merge rule as ids: left + right -> merged, listed in rank order.
struct MergeIds {
  std::int32_t left;
  std::int32_t right;
  std::int32_t merged;
};

class BpeModel {
 public:
  // `table` must outlive the model. `byte_ids[b]` is the token of the single
  // byte b (-1 when the vocabulary lacks it).
  BpeModel(const TokenTable& table, const std::vector<std::int32_t>& vocab_ids,
           const std::array<std::int32_t, 256>& byte_ids, const std::vector<MergeIds>& merges,
           BpeOptions options);

  // Appends the tokens of one piece (raw bytes) to `out`.
  void encode(std::string_view piece, std::vector<std::int32_t>& out) const;

  // The merge loop alone, without the whole-token lookup (tests use it).
  void merge(std::string_view piece, std::vector<std::int32_t>& out) const;

  // Vocabulary tokens whose bytes BPE does not turn back into that one token.
  std::size_t num_unreachable_tokens() const { return num_unreachable_; }

 private:
  void merge_small(std::int32_t* ids, std::size_t n, std::vector<std::int32_t>& out) const;
  void merge_large(const std::vector<std::int32_t>& ids, std::vector<std::int32_t>& out) const;

  const TokenTable* table_;
  TokenMap whole_tokens_;
  std::vector<std::uint8_t> whole_ok_;  // by id: BPE of its bytes is exactly it
  std::size_t max_token_bytes_ = 0;
  std::array<std::int32_t, 256> byte_ids_;
  MergeMap merges_;
  BpeOptions options_;
  std::size_t num_unreachable_ = 0;
};

}  // namespace pagoda
