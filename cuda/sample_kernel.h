// Sampling on the device: each sampled row's token (and logprobs) chosen from
// its logits with its own parameters, exactly as the host Sampler chooses
// (cuda/sample_row.h says how, and where rounding may differ). One thread
// block per row; stream-ordered, no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"
#include "cuda/sample_row.h"

namespace pagoda::cuda {

struct SampleParams {
  const float* logits = nullptr;          // [rows, row_stride] f32, raw (read only)
  const SampleRowParams* rows = nullptr;  // [num_rows]; rows[i].logits_row picks the logits row
  const LogitEdit* edits = nullptr;       // the rows' edits
  // Rows with penalties read their token history through `history` and
  // count it in `counts` ([num_rows, vocab_size] scratch, never cleared
  // whole: row_edits.h). Required (a launch without them is refused).
  TokenHistoryView history;
  std::uint32_t* counts = nullptr;
  float* processed = nullptr;      // [num_rows, vocab_size] f32 scratch
  SampleRowOutput* out = nullptr;  // [num_rows]
  std::int64_t num_rows = 0;
  std::int64_t vocab_size = 0;  // columns considered
  std::int64_t row_stride = 0;  // of logits
  // How a block adds into its histograms: each warp's adds to one bucket
  // summed in the warp and added once (a row's keys share a few leading
  // digits, so per-lane adds queue on one or two buckets), or each lane's
  // add on its own (the form to compare with). The same sums either way.
  bool warp_aggregated_adds = true;
};

cudaError_t launch_sample(const SampleParams& p, cudaStream_t stream,
                          LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
