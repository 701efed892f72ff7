// DeviceSampleBatch: a step's sampled rows as the device sampler takes them
// (cuda/sample_row.h): per-row parameters and the logit edits that stand for
// penalties, logit_bias and min_tokens, built from each row's SamplingParams
// and token history so the device samples exactly what the host Sampler
// would. Pure host code (tested without a device); the step thread builds it.
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

// Appends `seq`'s row, which samples logits row `logits_row`. Returns false
// and appends nothing when the device cannot reproduce the host Sampler for
// it: a logit_bias naming one token twice (the Sampler adds both in turn).
bool append_device_sample_row(const ScheduledSequence& seq, std::int64_t logits_row,
                              std::span<const std::int32_t> eos_token_ids, std::int32_t vocab_size,
                              DeviceSampleBatch* batch);

}  // namespace pagoda::cuda
