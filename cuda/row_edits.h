// The tokens whose logits a sampled row changes before temperature, and how,
// as the host Sampler changes them: penalties from the request's history,
// then logit_bias, then min_tokens bans. The history never crosses the bus:
// the device reads it from the KV cache's token ids through the row's block
// table (TokenHistoryView), and counts it in a per-row scratch, so the host
// sends a row's parameters and its few bias and ban edits, whatever its
// length. Header only, written once for a CUDA block and for host blocks
// (sample_row.h's Block interface).
#pragma once

#include <cmath>
#include <cstdint>

#include "cuda/host_device.h"

namespace pagoda::cuda {

constexpr std::int32_t kEditBan = 1;  // -inf (min_tokens holds back eos and stop ids)

// One token's logit_bias and ban. A row's edits name distinct tokens.
struct LogitEdit {
  std::int32_t token = 0;
  std::int32_t flags = 0;
  float bias = 0.0f;
};

// A row's penalties, in the Sampler's order: the repetition penalty on every
// token of the prompt and the output, then frequency * count + presence off
// every token of the output.
struct RowPenalties {
  double repetition = 1.0;  // 1: off
  double presence = 0.0;
  double frequency = 0.0;
  std::int32_t history_table = 0;  // the row's block table: offset in TokenHistoryView::block_tables
  std::int32_t num_history = 0;    // prompt + output tokens; 0: no penalties
  std::int32_t num_prompt = 0;     // the first num_prompt of them
};

// The token id held at each KV-cache slot (written by the step that computes
// the slot's K and V) and the step's block tables: position i of a sequence
// whose table starts at `table` is at slot
// block_tables[table + i / block_size] * block_size + i % block_size.
struct TokenHistoryView {
  const std::int32_t* slot_tokens = nullptr;
  const std::int32_t* block_tables = nullptr;
  std::int32_t block_size = 1;

  // (32-bit division: a 64-bit one is a long call on the device.)
  PAGODA_HD std::int32_t token(std::int32_t table, std::int32_t i) const {
    const std::int64_t block = block_tables[table + i / block_size];
    return slot_tokens[block * block_size + i % block_size];
  }
};

// A row's count scratch ([vocab] words) holds, for each token it touches,
// the token's occurrences in the output and two flags. Only touched words are
// written (cleared first), so the scratch is never cleared whole.
constexpr std::uint32_t kInPrompt = 1u << 31;
constexpr std::uint32_t kWritten = 1u << 30;  // the token's processed logit is written
constexpr std::uint32_t kOutputCount = kWritten - 1;

// The logit of a touched token after penalties (its count word `word`) and
// its edit `e` (null: none), before temperature.
PAGODA_HD inline float edited_logit(float logit, const RowPenalties& pen, std::uint32_t word,
                                    const LogitEdit* e) {
  const std::uint32_t count = word & kOutputCount;
  if (pen.repetition != 1.0 && (count > 0 || (word & kInPrompt) != 0)) {
    logit =
        logit > 0 ? static_cast<float>(logit / pen.repetition) : static_cast<float>(logit * pen.repetition);
  }
  if (count > 0 && (pen.presence != 0.0 || pen.frequency != 0.0))
    logit -= static_cast<float>(mul_add_rounded_twice(pen.frequency, count, pen.presence));  // as the Sampler
  if (e != nullptr) {
    logit += e->bias;
    if ((e->flags & kEditBan) != 0) logit = -INFINITY;
  }
  return logit;
}

// One row's touched tokens: p[t] = edited_logit(raw[t]) * inv_temperature
// for every token of edits[edit_begin, edit_end) and of the history, over a
// row whose untouched tokens already hold raw * inv_temperature. Every
// thread of the block calls it; p is complete after the caller's next sync.
// `counts` ([vocab]) and `history` are read only when pen.num_history > 0.
// Each touched token is written once, by the thread that sets its kWritten
// (edits first, then the first of the history's occurrences to claim it).
template <class Block>
PAGODA_HD void apply_row_edits(Block& b, const RowPenalties& pen, const LogitEdit* edits,
                               std::int32_t edit_begin, std::int32_t edit_end,
                               const TokenHistoryView& history, std::uint32_t* counts, const float* raw,
                               float* p, std::int64_t vocab, float inv_temperature) {
  const bool counted = pen.num_history > 0;
  auto valid = [&](std::int32_t t) { return t >= 0 && t < vocab; };
  auto for_history = [&](auto&& f) {
    for (std::int32_t i = b.tid(); i < pen.num_history; i += b.num_threads()) {
      const std::int32_t t = history.token(pen.history_table, i);
      if (valid(t)) f(i, t);
    }
  };
  if (counted) {
    for_history([&](std::int32_t, std::int32_t t) { b.clear_word(&counts[t]); });
    for (std::int32_t e = edit_begin + b.tid(); e < edit_end; e += b.num_threads()) {
      if (valid(edits[e].token)) b.clear_word(&counts[edits[e].token]);
    }
    b.sync();
    // A token is in the history iff its word is not 0 after this.
    for_history([&](std::int32_t i, std::int32_t t) {
      if (i < pen.num_prompt) {
        b.or_word(&counts[t], kInPrompt);
      } else {
        b.add_word(&counts[t], 1);
      }
    });
    b.sync();
  }
  for (std::int32_t e = edit_begin + b.tid(); e < edit_end; e += b.num_threads()) {
    const LogitEdit& ed = edits[e];
    if (!valid(ed.token)) continue;
    const std::uint32_t word = counted ? b.or_word(&counts[ed.token], kWritten) : 0;
    p[ed.token] = edited_logit(raw[ed.token], pen, word, &ed) * inv_temperature;
  }
  if (!counted) return;
  b.sync();
  for_history([&](std::int32_t, std::int32_t t) {
    const std::uint32_t word = b.or_word(&counts[t], kWritten);
    if ((word & kWritten) == 0) p[t] = edited_logit(raw[t], pen, word, nullptr) * inv_temperature;
  });
}

}  // namespace pagoda::cuda
