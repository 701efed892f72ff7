#include "engine/cuda/device_sample_batch.h"

#include <vector>

#include "engine/sampler.h"

namespace pagoda::cuda {

namespace {

// One row's edits while they are built: a vocabulary-sized table from token to
// its edit (-1: none; all -1 between rows) and the edits in the order made.
// Per thread, reused by every row, so a row costs about its edits' count.
struct EditTable {
  std::vector<std::int32_t> slot;
  std::vector<LogitEdit> edits;

  // `token`'s edit, made on first use (*made says whether it was).
  LogitEdit& edit(std::int32_t token, bool* made = nullptr) {
    std::int32_t& s = slot[static_cast<std::size_t>(token)];
    if (made != nullptr) *made = s < 0;
    if (s < 0) {
      s = static_cast<std::int32_t>(edits.size());
      edits.push_back(LogitEdit{token});
    }
    return edits[static_cast<std::size_t>(s)];
  }
  // Back to all -1, no edits.
  void reset() {
    for (const LogitEdit& e : edits)
      slot[static_cast<std::size_t>(e.token)] = -1;
    edits.clear();
  }
};

}  // namespace

bool append_device_sample_row(const ScheduledSequence& seq, std::int64_t logits_row,
                              std::int32_t history_table, std::span<const std::int32_t> eos_token_ids,
                              std::int32_t vocab_size, DeviceSampleBatch* batch) {
  const SamplingParams& sp = *seq.sampling;
  thread_local EditTable table;
  if (table.slot.size() < static_cast<std::size_t>(vocab_size))
    table.slot.resize(static_cast<std::size_t>(vocab_size), -1);
  table.reset();
  auto valid = [&](std::int32_t t) { return t >= 0 && t < vocab_size; };
  for (const auto& [t, bias] : sp.logit_bias) {
    if (!valid(t)) continue;
    bool made = false;
    table.edit(t, &made).bias = bias;
    if (!made) return false;
  }
  if (seq.num_output_tokens < sp.min_tokens) {
    if (!sp.ignore_eos) {
      for (std::int32_t t : eos_token_ids) {
        if (valid(t)) table.edit(t).flags |= kEditBan;
      }
    }
    for (std::int32_t t : sp.stop_token_ids) {
      if (valid(t)) table.edit(t).flags |= kEditBan;
    }
  }

  SampleRowParams row;
  row.logits_row = logits_row;
  row.greedy = sp.greedy() ? 1 : 0;
  row.inv_temperature = sp.greedy() ? 1.0f : static_cast<float>(1.0 / sp.temperature);
  row.top_k = sp.top_k > 0 && sp.top_k < vocab_size ? sp.top_k : 0;
  row.top_p = sp.top_p;
  row.min_p = sp.min_p;
  row.uniform = Sampler::uniform(seq.seed, seq.num_output_tokens);
  row.num_logprobs = sp.logprobs;
  if (sp.uses_penalties()) {
    row.penalties.repetition = sp.repetition_penalty;
    row.penalties.presence = sp.presence_penalty;
    row.penalties.frequency = sp.frequency_penalty;
    row.penalties.history_table = history_table;
    row.penalties.num_history = static_cast<std::int32_t>(seq.token_ids.size());
    row.penalties.num_prompt = seq.num_prompt_tokens;
  }
  // In the order made: a row's edits name distinct tokens, so the kernel's
  // result does not depend on their order.
  row.edit_begin = static_cast<std::int32_t>(batch->edits.size());
  batch->edits.insert(batch->edits.end(), table.edits.begin(), table.edits.end());
  row.edit_end = static_cast<std::int32_t>(batch->edits.size());
  batch->rows.push_back(row);
  return true;
}

namespace {

// Greedy with nothing that makes the Sampler's choice differ from the argmax
// of the raw logits.
bool plain_greedy(const ScheduledSequence& seq) {
  const SamplingParams& sp = *seq.sampling;
  return sp.greedy() && sp.logprobs < 0 && !sp.uses_penalties() && sp.logit_bias.empty() &&
         seq.num_output_tokens >= sp.min_tokens;
}

}  // namespace

SampleRouting route_sampled_rows(std::span<const ScheduledSequence* const> sampled,
                                 std::span<const std::int32_t> history_tables, bool sampler_enabled,
                                 std::span<const std::int32_t> eos_token_ids, std::int32_t vocab_size,
                                 std::int64_t max_edits, DeviceSampleBatch* batch) {
  batch->clear();
  SampleRouting r;
  r.device_row.assign(sampled.size(), -1);
  if (sampled.empty()) return r;
  r.argmax_only = true;
  for (const ScheduledSequence* s : sampled)
    r.argmax_only = r.argmax_only && plain_greedy(*s);
  if (r.argmax_only) return r;
  if (!sampler_enabled) {
    r.any_host = true;
    return r;
  }
  for (std::size_t i = 0; i < sampled.size(); ++i) {
    const std::size_t edits_before = batch->edits.size();
    if (!append_device_sample_row(*sampled[i], static_cast<std::int64_t>(i), history_tables[i], eos_token_ids,
                                  vocab_size, batch)) {
      r.any_host = true;
      continue;
    }
    if (static_cast<std::int64_t>(batch->edits.size()) > max_edits) {
      batch->edits.resize(edits_before);
      batch->rows.pop_back();
      r.any_host = true;
      continue;
    }
    r.device_row[i] = static_cast<std::int32_t>(batch->rows.size()) - 1;
  }
  return r;
}

}  // namespace pagoda::cuda
