// The kernel tables of pagoda_cuda_engine_bench: single launches of the
// model's GEMMs, attention kernels and the sampler timed with device events, each against
// the ceiling measured in the same run (copy bandwidth, GEMM rate), so that a
// step's time can be read kernel by kernel. Each prints its table and returns
// false when any entry failed (after printing the rest: -1 ms marks a failed
// entry). Host thread with the current device.
#pragma once

#include "bench/cuda_bench_timing.h"
#include "engine/model/model_config.h"

namespace pagoda::bench {

// The projections of one layer and lm_head at the Effort's m values:
// cuBLASLt's first heuristic pick and its fastest timed candidate, our skinny
// GEMM where it applies and the batch-invariant GEMM, as achieved bandwidth.
bool gemm_shape_table(const ModelConfig& c, double bandwidth, const Effort& e);

// One layer's attention at tp 1: decode rows (split-KV and combine at the
// runner's splits for `num_sms`) as bandwidth over the K and V they read, and
// one prompt's prefill (tiles of 64 rows over the paged cache; 16 and 32 query
// rows per warp) as FLOP/s.
bool attention_table(const ModelConfig& c, int num_sms, double bandwidth, double gemm_rate, const Effort& e);

// The device sampler (one block per row) over the whole vocabulary at the
// Effort's row counts and three kinds of rows, with its histogram adds
// aggregated in each warp (the default) and each lane's own.
bool sampler_table(const ModelConfig& c, const Effort& e);

}  // namespace pagoda::bench
