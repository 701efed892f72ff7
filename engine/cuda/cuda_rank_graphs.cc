// CudaRank's decode CUDA graphs: the batch sizes worth one, their capture
// (an eager warm-up, then the same kernels captured on the rank's stream),
// and the padding that fits a decode step to a captured size. Replay is in
// CudaRank::forward. Rank thread only, as the rest of CudaRank.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/cuda_status.h"
#include "engine/cuda/cuda_rank.h"
#include "engine/cuda/cuda_rank_layout.h"
#include "engine/cuda/decode_attention_split.h"

namespace pagoda::cuda {

void CudaRank::destroy_graphs() {
  for (Graph& g : graphs_) {
    if (g.exec != nullptr) cudaGraphExecDestroy(g.exec);  // one still running is freed when it ends
    if (g.graph != nullptr) cudaGraphDestroy(g.graph);
  }
  graphs_.clear();
}

void CudaRank::pad_decode_step(const FlatStep& step, std::int64_t bs, FlatStep* out) const {
  const std::int64_t n = step.num_tokens();
  *out = step;
  const auto scratch_table = static_cast<std::int32_t>(out->block_tables.size());
  out->block_tables.push_back(scratch_block_);
  for (std::int64_t i = n; i < bs; ++i) {
    out->tokens.push_back(0);
    out->positions.push_back(0);
    out->slot_mapping.push_back(static_cast<std::int64_t>(scratch_block_) * limits_.block_size);
    out->block_table_offsets.push_back(scratch_table);
  }
  out->decode_rows.clear();
  for (std::int64_t i = 0; i < bs; ++i)
    out->decode_rows.push_back(static_cast<std::int32_t>(i));
  while (static_cast<std::int64_t>(out->sample_rows.size()) < bs)
    out->sample_rows.push_back(0);  // outputs past the real sampled rows are ignored
  if (batch_invariant_) decode_rows_as_tiles(out);
}

CudaRank::Layout CudaRank::decode_layout(std::int64_t bs) const {
  Layout l = batch_invariant_ ? Layout::of(bs, bs, 0, 0, bs) : Layout::of(bs, bs, bs, 0);
  l.max_context = limits_.max_model_len;  // a graph serves any context up to it
  return l;
}

std::vector<std::int64_t> CudaRank::decode_graph_sizes() const {
  std::vector<std::int64_t> sizes = {1, 2, 4, 8};
  for (std::int64_t b = 16; b <= 256; b += b < 64 ? 8 : 32)
    sizes.push_back(b);
  for (std::int64_t b = 512; b <= limits_.max_seqs; b *= 2)
    sizes.push_back(b);
  const std::int64_t most = std::min<std::int32_t>(limits_.max_seqs, limits_.max_tokens);
  while (!sizes.empty() && sizes.back() > most)
    sizes.pop_back();
  return sizes;
}

Status CudaRank::capture_decode_graph(std::int64_t bs) {
  if (!graphs_.empty() && bs <= graphs_.back().batch_size)
    return internal_error("decode graphs are captured in ascending batch size");
  FlatStep empty, dummy;
  pad_decode_step(empty, bs, &dummy);
  const Layout l = decode_layout(bs);
  // The grid holds the splits a full-length context would want; each replay
  // sets the split size from its own longest context (decode_split_size).
  const std::int64_t splits = splits_for(l.nd, limits_.max_model_len);
  // An eager run first: cuBLASLt picks and caches each GEMM's algorithm
  // outside the capture, and errors surface here rather than at replay.
  PAGODA_RETURN_IF_ERROR(stage(dummy, l, decode_split_size(1, splits)));
  PAGODA_RETURN_IF_ERROR(enqueue_forward(l, splits));
  PAGODA_RETURN_IF_ERROR(wait_for_stream("the warm-up before a graph capture"));
  Graph g;
  g.batch_size = bs;
  g.num_splits = splits;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  Status st = enqueue_forward(l, splits);
  const cudaError_t end = cudaStreamEndCapture(stream_, &g.graph);
  if (!st.ok() && end == cudaSuccess) cudaGraphDestroy(g.graph);
  PAGODA_RETURN_IF_ERROR(st);
  PAGODA_CUDA_RETURN_IF_ERROR(end);
  if (const cudaError_t e = cudaGraphInstantiate(&g.exec, g.graph, 0); e != cudaSuccess) {
    cudaGraphDestroy(g.graph);
    return cuda_status(e, "cudaGraphInstantiate");
  }
  graphs_.push_back(g);
  return ok_status();
}

}  // namespace pagoda::cuda
