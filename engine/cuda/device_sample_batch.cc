#include "engine/cuda/device_sample_batch.h"

#include <set>
#include <vector>

#include "engine/sampler.h"

namespace pagoda::cuda {

namespace {

// One row's edits while they are built: a vocabulary-sized table from token to
// its edit (-1: none; all -1 between rows) and the edits in the order made.
// Per thread, reused by every row, so a row costs about its history's length
// (a std::map per row before, sorted by token: 3-20x slower,
// pagoda_sample_batch_bench, docs/performance.md).
struct EditTable {
  std::vector<std::int32_t> slot;
  std::vector<LogitEdit> edits;
  std::vector<std::int32_t> counts;  // per edit: the token's occurrences in the output

  // `token`'s edit, made (with a count of 0) on first use.
  std::size_t index(std::int32_t token) {
    std::int32_t& s = slot[static_cast<std::size_t>(token)];
    if (s < 0) {
      s = static_cast<std::int32_t>(edits.size());
      edits.push_back(LogitEdit{token});
      counts.push_back(0);
    }
    return static_cast<std::size_t>(s);
  }
  LogitEdit& edit(std::int32_t token) { return edits[index(token)]; }
  std::int32_t& count(std::int32_t token) { return counts[index(token)]; }
  // Back to all -1, no edits.
  void reset() {
    for (const LogitEdit& e : edits)
      slot[static_cast<std::size_t>(e.token)] = -1;
    edits.clear();
    counts.clear();
  }
};

}  // namespace

bool append_device_sample_row(const ScheduledSequence& seq, std::int64_t logits_row,
                              std::span<const std::int32_t> eos_token_ids, std::int32_t vocab_size,
                              DeviceSampleBatch* batch) {
  const SamplingParams& sp = *seq.sampling;
  thread_local EditTable table;
  if (table.slot.size() < static_cast<std::size_t>(vocab_size))
    table.slot.resize(static_cast<std::size_t>(vocab_size), -1);
  table.reset();
  auto valid = [&](std::int32_t t) { return t >= 0 && t < vocab_size; };
  if (sp.repetition_penalty != 1.0) {
    for (std::int32_t t : seq.token_ids) {
      if (valid(t)) table.edit(t).flags |= kEditRepetition;
    }
  }
  const auto total = static_cast<std::int64_t>(seq.token_ids.size());
  if ((sp.presence_penalty != 0.0 || sp.frequency_penalty != 0.0) && total > seq.num_prompt_tokens) {
    for (std::int64_t i = seq.num_prompt_tokens; i < total; ++i) {
      const std::int32_t t = seq.token_ids[static_cast<std::size_t>(i)];
      if (valid(t)) ++table.count(t);
    }
    for (std::size_t k = 0; k < table.edits.size(); ++k) {
      if (table.counts[k] > 0) {
        table.edits[k].subtract =
            static_cast<float>(sp.frequency_penalty * table.counts[k] + sp.presence_penalty);
      }
    }
  }
  std::set<std::int32_t> biased;
  for (const auto& [t, bias] : sp.logit_bias) {
    if (!valid(t)) continue;
    if (!biased.insert(t).second) return false;
    table.edit(t).bias = bias;
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
  row.repetition_penalty = sp.repetition_penalty;
  row.uniform = Sampler::uniform(seq.seed, seq.num_output_tokens);
  row.num_logprobs = sp.logprobs;
  // In the order first made (history, bias, bans): a row's edits name
  // distinct tokens, so the kernel's result does not depend on their order,
  // and sorting them cost more than building them (pagoda_sample_batch_bench).
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

SampleRouting route_sampled_rows(std::span<const ScheduledSequence* const> sampled, bool sampler_enabled,
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
    if (!append_device_sample_row(*sampled[i], static_cast<std::int64_t>(i), eos_token_ids, vocab_size,
                                  batch)) {
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
