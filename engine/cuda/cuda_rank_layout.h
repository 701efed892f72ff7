// CudaRank's private layouts, shared by its own .cc files only: where one
// step's index arrays sit in the inputs region (Layout) and how the device
// workspace is carved (Workspace), both sized from CudaStepLimits at start-up.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cuda/paged_attention_kernel.h"
#include "cuda/prefill_attention_kernel.h"
#include "cuda/sample_kernel.h"
#include "engine/cuda/bump_layout.h"
#include "engine/cuda/cuda_rank.h"

namespace pagoda::cuda::rank_capacity {

// (row, split) pairs the attention workspace holds at least.
inline constexpr std::int64_t kMinSplitRows = 1024;

inline std::int64_t max_blocks_per_seq(const CudaStepLimits& l) {
  return (l.max_model_len + l.block_size - 1) / l.block_size;
}

// Block table entries one step may stage.
inline std::int64_t block_table_capacity(const CudaStepLimits& l) {
  return static_cast<std::int64_t>(l.max_seqs) * max_blocks_per_seq(l) + 1;  // + the scratch block's table
}

// Attention tiles (prefill tiles and decode rows) one step may have.
inline std::int64_t max_tiles(const CudaStepLimits& l) {
  return l.max_tokens / kPrefillTileRows + l.max_seqs + 1;
}

}  // namespace pagoda::cuda::rank_capacity

namespace pagoda::cuda {

// Byte offsets of one step's index arrays in the inputs region (and in the
// pinned staging buffer, which mirrors it). Depends only on the capacities
// given, so a captured graph's pointers stay valid for any step of its size;
// block tables come last so only the used part is copied. Packed, not
// BumpLayout's 256-byte regions: the step copies it to the device whole.
struct CudaRank::Layout {
  // rows, sampled rows, decode rows, prefill tiles, decode tiles (the batch-invariant mode's)
  std::int64_t n = 0, s = 0, nd = 0, nt = 0, ndt = 0;
  // The longest context of the step's tokens (of a graph's: max_model_len);
  // the batch-invariant mode's KV splits are counted from it.
  std::int64_t max_context = 0;
  std::int64_t slots = 0, tokens = 0, positions = 0, table_offsets = 0, sample_rows = 0, decode_rows = 0,
               tiles = 0, decode_tiles = 0, split_size = 0, tables = 0;
  std::int64_t bytes_before_tables = 0;

  static Layout of(std::int64_t n, std::int64_t s, std::int64_t nd, std::int64_t nt, std::int64_t ndt = 0) {
    Layout l;
    l.n = n;
    l.s = s;
    l.nd = nd;
    l.nt = nt;
    l.ndt = ndt;
    std::int64_t off = 0;
    l.slots = off;
    off += n * 8;
    l.tiles = off;
    off += nt * 16;
    l.decode_tiles = off;
    off += ndt * 16;
    l.tokens = off;
    off += n * 4;
    l.positions = off;
    off += n * 4;
    l.table_offsets = off;
    off += n * 4;
    l.sample_rows = off;
    off += s * 4;
    l.decode_rows = off;
    off += nd * 4;
    l.split_size = off;  // one int32: context positions per decode attention split
    off += 4;
    l.tables = off;
    l.bytes_before_tables = off;
    return l;
  }
};

struct CudaRank::Workspace {
  std::uint8_t* inputs = nullptr;  // the step's index arrays (Layout)
  float *cos = nullptr, *sin = nullptr;
  double* inv_freq = nullptr;
  float *hidden = nullptr, *proj = nullptr, *qkv = nullptr, *q = nullptr, *gate_up = nullptr;
  float *attn_partial = nullptr, *logits = nullptr;  // logits: [max_seqs, vocab_padded] of this shard
  float* gathered = nullptr;    // with a communicator: [world, max_seqs, vocab_padded], every shard's logits
  float* rank_parts = nullptr;  // batch-invariant at tp > 2: [world, max_tokens * hidden], each rank's
                                // part of an all-reduce, gathered
  float* vocab_logits = nullptr;  // rank 0: [max_seqs, logits_stride()] the whole vocabulary's
                                  // (== logits without a communicator); the argmax and sampler read it
  std::uint16_t *xb = nullptr, *attn_b = nullptr, *act = nullptr, *final_xb = nullptr;
  // Rank 0 only (the rank that chooses tokens):
  std::int32_t* ids = nullptr;             // [max_seqs] greedy argmax of each sampled row
  SampleRowParams* sample_rows = nullptr;  // [max_seqs] the device sampler's rows
  LogitEdit* sample_edits = nullptr;       // [kMaxSampleEdits]
  float* processed = nullptr;              // [max_seqs, vocab] the sampler's scratch
  std::uint32_t* token_counts = nullptr;   // [max_seqs, vocab] the sampler's penalty counts (row_edits.h)
  SampleRowOutput* sampled = nullptr;      // [max_seqs]

  std::int64_t split_rows = 0;  // (row, split) pairs attn_partial holds
  std::int64_t bytes = 0;

  static std::int64_t inputs_bytes(const CudaStepLimits& l) {
    // Tiles of either kind: max_tiles in all.
    const Layout most = Layout::of(l.max_tokens, l.max_seqs, l.max_tokens, rank_capacity::max_tiles(l));
    return most.bytes_before_tables + rank_capacity::block_table_capacity(l) * 4;
  }

  // Sums across more than two ranks in rank order: the batch-invariant mode's all-reduce.
  static bool sums_in_rank_order(const cpu::RankShard& s, bool gathers, const CudaKernelChoices& k) {
    return k.batch_invariant && gathers && s.world_size > 2;
  }

  static Workspace lay_out(const ModelConfig& c, const cpu::RankShard& s, const CudaStepLimits& l,
                           bool gathers, const CudaKernelChoices& k, std::uint8_t* base) {
    Workspace w;
    BumpLayout b(base);
    const std::int64_t t = l.max_tokens, seqs = l.max_seqs, h = c.hidden_size, hd = c.head_dim;
    const std::int64_t nq = s.num_q_heads, nkv = s.num_kv_heads, inter = s.inter_size, vp = s.vocab_padded;
    w.split_rows = std::max<std::int64_t>(t, rank_capacity::kMinSplitRows);
    w.inputs = b.take<std::uint8_t>(inputs_bytes(l));
    w.cos = b.take<float>(t * hd / 2);
    w.sin = b.take<float>(t * hd / 2);
    w.inv_freq = b.take<double>(hd / 2);
    w.hidden = b.take<float>(t * h);
    w.proj = b.take<float>(t * h);
    w.qkv = b.take<float>(t * (nq + 2 * nkv) * hd);
    w.q = b.take<float>(t * nq * hd);
    w.gate_up = b.take<float>(t * 2 * inter);
    w.attn_partial = b.take<float>(paged_attention_workspace_floats(w.split_rows, nq, 1, hd));
    const bool samples = s.rank == 0;
    w.logits = b.take<float>(seqs * vp);
    if (gathers) w.gathered = b.take<float>(seqs * vp * s.world_size);
    if (sums_in_rank_order(s, gathers, k)) w.rank_parts = b.take<float>(s.world_size * t * h);
    if (samples) w.vocab_logits = gathers ? b.take<float>(seqs * vp * s.world_size) : w.logits;
    w.xb = b.take<std::uint16_t>(t * h);
    w.attn_b = b.take<std::uint16_t>(t * nq * hd);
    w.act = b.take<std::uint16_t>(t * inter);
    w.final_xb = b.take<std::uint16_t>(seqs * h);
    if (samples) {
      w.ids = b.take<std::int32_t>(seqs);
      w.sample_rows = b.take<SampleRowParams>(seqs);
      w.sample_edits = b.take<LogitEdit>(kMaxSampleEdits);
      w.processed = b.take<float>(seqs * c.vocab_size);
      w.token_counts = b.take<std::uint32_t>(seqs * c.vocab_size);
      w.sampled = b.take<SampleRowOutput>(seqs);
    }
    w.bytes = b.used();
    return w;
  }
};

}  // namespace pagoda::cuda
