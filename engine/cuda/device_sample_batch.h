// DeviceSampleBatch: a step's sampled rows as the device sampler takes them
// (cuda/sample_row.h): per-row parameters, where each row's token history
// starts (the device reads it from the KV cache's token ids for penalties,
// cuda/row_edits.h) and the logit edits of its logit_bias and min_tokens
// bans, so the device samples exactly what the host Sampler would. A row
// costs O(its bias and bans) here, whatever its history's length. Pure host
// code (tested without a device); the step thread builds it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cuda/sample_row.h"
#include "scheduler/step_plan.h"

namespace pagoda::cuda {

struct DeviceSampleBatch {
  std::vector<SampleRowParams> rows;
  std::vector<LogitEdit> edits;  // rows[i] owns [edit_begin, edit_end)

  void clear() {
    rows.clear();
    edits.clear();
  }
};

// How a step's sampled rows get their tokens on the CUDA backend (at any tp,
// on rank 0, which holds the whole vocabulary's logits): the device argmax
// when every row is plain greedy (no logprobs, penalties, bias or min_tokens
// ban: its token is the argmax of the raw logits), else the device sampler for
// every row it can take; the rest sample on the host from copied logits.
struct SampleRouting {
  bool argmax_only = false;              // the device argmax decides every row
  std::vector<std::int32_t> device_row;  // per sampled row: its row in the batch, -1 = host
  bool any_host = false;                 // some row needs its logits on the host
};

// Routes `sampled` (the step's sampled sequences, in order) and fills `batch`
// (cleared first) with the rows the device sampler takes, at most
// `max_edits` edits in all. history_tables[i]: where sampled[i]'s block
// table starts in the step's block tables (FlatStep), which cover its whole
// history. `sampler_enabled`: the device sampler may be used (else
// non-greedy steps sample on the host).
SampleRouting route_sampled_rows(std::span<const ScheduledSequence* const> sampled,
                                 std::span<const std::int32_t> history_tables, bool sampler_enabled,
                                 std::span<const std::int32_t> eos_token_ids, std::int32_t vocab_size,
                                 std::int64_t max_edits, DeviceSampleBatch* batch);

// Appends `seq`'s row, which samples logits row `logits_row` and whose block
// table starts at `history_table`. Returns false and appends nothing when the
// device cannot reproduce the host Sampler for it: a logit_bias naming one
// token twice (the Sampler adds both in turn).
bool append_device_sample_row(const ScheduledSequence& seq, std::int64_t logits_row,
                              std::int32_t history_table, std::span<const std::int32_t> eos_token_ids,
                              std::int32_t vocab_size, DeviceSampleBatch* batch);

}  // namespace pagoda::cuda
