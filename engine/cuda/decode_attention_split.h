// How the CUDA runner splits decode rows' contexts over the split-KV attention
// kernel (flash-decoding): pure host arithmetic, shared by CudaRank and
// pagoda_cuda_engine_bench so that the bench times the splits a step uses.
// Any thread.
#pragma once

#include <cstdint>

namespace pagoda::cuda {

constexpr std::int64_t kMinDecodeSplitSize = 64;  // context positions per split, at least

// Splits for num_decode rows whose longest context is max_context: enough
// that the blocks (one per row, KV head and split) put about two on every SM,
// no more than splits of kMinDecodeSplitSize positions would fill, and at
// most max_split_rows / num_decode ((row, split) pairs the workspace holds).
// 1 when num_decode is 0.
std::int64_t decode_attention_splits(std::int64_t num_decode, std::int64_t num_kv_heads,
                                     std::int64_t max_context, int num_sms, std::int64_t max_split_rows);

// Context positions per split: max_context spread evenly over num_splits, at
// least kMinDecodeSplitSize (so num_splits * result covers max_context).
std::int32_t decode_split_size(std::int64_t max_context, std::int64_t num_splits);

// The batch-invariant mode's decode tiles (one token x heads_per_tile heads a
// CTA, fixed-position KV splits; launch_prefill_attention): the grid rows
// their splits run apart in, 0 to run a tile's splits in one CTA. Apart only
// when the tiles' CTAs alone (num_decode_tiles x num_heads / heads_per_tile)
// leave multiprocessors idle and the workspace holds a partial for each of
// num_rows x max_splits (row, split) pairs (max_split_rows); then enough grid
// rows for about two CTAs per multiprocessor, at most max_splits. The bits
// are the same either way.
int invariant_decode_split_slots(std::int64_t num_rows, std::int64_t num_decode_tiles, std::int64_t num_heads,
                                 std::int64_t heads_per_tile, std::int64_t max_splits, int num_sms,
                                 std::int64_t max_split_rows);

}  // namespace pagoda::cuda
