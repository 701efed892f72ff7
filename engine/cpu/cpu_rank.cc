#include "engine/cpu/cpu_rank.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "base/bf16.h"
#include "engine/cpu/cpu_ops.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/paged_attention.h"

namespace pagoda::cpu {
namespace {

template <typename Vector>
auto* sized(Vector& v, std::int64_t n) {
  if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

}  // namespace

std::int64_t CpuRank::kv_bytes_per_block(const ModelConfig& c, const RankShard& s, std::int32_t block_size) {
  return 2LL * c.num_hidden_layers * s.num_kv_heads * block_size * c.head_dim * 2;
}

CpuRank::CpuRank(const ModelConfig& config, std::shared_ptr<const CpuWeights> weights,
                 std::unique_ptr<const CpuPackedWeights> packed, std::unique_ptr<Communicator> comm,
                 int num_threads, CpuIsa isa, std::int32_t num_blocks, std::int32_t block_size)
    : config_(config),
      weights_(std::move(weights)),
      packed_(std::move(packed)),
      shard_(weights_->shard()),
      comm_(std::move(comm)),
      pool_(num_threads),
      isa_(isa),
      rope_(rope_frequencies(config)),
      block_size_(block_size),
      kv_elems_per_layer_(static_cast<std::int64_t>(num_blocks) * shard_.num_kv_heads * block_size *
                          config.head_dim) {
  const auto total = static_cast<std::size_t>(kv_elems_per_layer_ * config.num_hidden_layers);
  k_cache_ = make_aligned_array<std::uint16_t>(total);
  v_cache_ = make_aligned_array<std::uint16_t>(total);
  // Claimed whole now, as a GPU server's KV memory is: a step never stops to
  // fault in and zero cache pages (on a fresh server those first touches were
  // ~4 % of a serving benchmark's samples, docs/performance.md), and a budget
  // the machine cannot hold fails at start-up rather than under load.
  claim_pages(k_cache_.get(), total * sizeof(std::uint16_t));
  claim_pages(v_cache_.get(), total * sizeof(std::uint16_t));
}

void CpuRank::claim_pages(void* memory, std::size_t bytes) {
  constexpr std::uintptr_t kPage = 4096;
  auto* p = static_cast<char*>(memory);
  // Huge pages where the kernel offers them (a hint, on whole pages only).
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kPage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  // One write per page faults it in; the kernel hands it over zeroed.
  constexpr std::size_t kChunkBytes = std::size_t{2} << 20;
  const auto chunks = static_cast<std::int64_t>((bytes + kChunkBytes - 1) / kChunkBytes);
  pool_.parallel_for(chunks, [&](std::int64_t c) {
    const std::size_t from = static_cast<std::size_t>(c) * kChunkBytes;
    const std::size_t to = std::min(bytes, from + kChunkBytes);
    for (std::size_t at = from; at < to; at += kPage)
      p[at] = 0;
  });
}

void CpuRank::gemm(const std::uint16_t* x, std::int64_t ldx, const PackedMatrix& w, float* y,
                   std::int64_t m) {
  gemm_bf16(GemmParams{x, ldx, w, y, w.n, m}, pool_, isa_);
}

void CpuRank::norm_rows_to_bf16(const float* x, const Bf16Matrix& w, std::int64_t rows, std::uint16_t* out) {
  const std::int64_t h = config_.hidden_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  pool_.parallel_for(rows, [&](std::int64_t t) {
    thread_local AlignedVector<float> tmp;
    float* y = sized(tmp, h);
    rms_norm_row(x + t * h, w.data, eps, h, y);
    f32_to_bf16_row(y, h, out + t * h);
  });
}

void CpuRank::embed(std::int64_t n) {
  const std::int64_t h = config_.hidden_size;
  float* hidden = hidden_.data();
  pool_.parallel_for(n, [&](std::int64_t t) {
    const std::int64_t id = tokens_[static_cast<std::size_t>(t)] - shard_.vocab_begin;
    if (id >= 0 && id < shard_.vocab_size) {
      if (config_.tie_word_embeddings) {  // the rows are lm_head's, packed
        packed_row_to_f32(packed_->lm_head, id, hidden + t * h);
      } else {
        bf16_to_f32_row(weights_->embedding.data + id * weights_->embedding.ld, h, hidden + t * h);
      }
    } else {
      std::fill(hidden + t * h, hidden + (t + 1) * h, 0.0f);  // another rank holds this row
    }
  });
  if (shard_.world_size > 1) comm_->all_reduce_sum(hidden, n * h);
}

void CpuRank::add_projection_to_residual(std::int64_t n) {
  const std::int64_t h = config_.hidden_size;
  pool_.parallel_for(n, [&](std::int64_t t) {
    float* dst = hidden_.data() + t * h;
    const float* src = proj_.data() + t * h;
    for (std::int64_t i = 0; i < h; ++i)
      dst[i] += src[i];
  });
}

void CpuRank::project_qkv(const CpuLayerWeights& lw, const CpuPackedLayer& pw, const KvCacheView& cache,
                          std::int64_t n) {
  const std::int64_t h = config_.hidden_size, hd = config_.head_dim, half = hd / 2;
  const std::int64_t nq = shard_.num_q_heads, nkv = shard_.num_kv_heads;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  // The three leave their GEMM through epilogues, whole heads at a time (a
  // group of lcm(head_dim, 64) columns), while in cache: q and k normed and
  // rotated, q rounded to bf16 for attention, K and V into the cache.
  const std::int64_t group_cols = std::lcm(hd, PackedMatrix::kPanelRows);
  const std::int64_t group_panels = group_cols / PackedMatrix::kPanelRows, heads_per_group = group_cols / hd;
  // The heads of `group` (of num_heads) in a block of rows; the last group may be short.
  const auto heads_in = [&](std::int64_t group, std::int64_t num_heads) {
    return std::min(heads_per_group, num_heads - group * heads_per_group);
  };
  const auto norm_rope = [&](float* block, std::int64_t ld, std::int64_t row0, std::int64_t rows,
                             std::int64_t heads, const Bf16Matrix& weight) {
    rms_norm_rope_heads({block, rows, ld, heads, hd, weight.data, eps, cos_.data() + row0 * half,
                         sin_.data() + row0 * half, half});
  };
  const GemmEpilogue q_out{
      group_panels,
      [&](float* block, std::int64_t ld, std::int64_t row0, std::int64_t rows, std::int64_t group) {
        const std::int64_t heads = heads_in(group, nq);
        norm_rope(block, ld, row0, rows, heads, lw.q_norm);
        for (std::int64_t r = 0; r < rows; ++r) {
          f32_to_bf16_row(block + r * ld, heads * hd,
                          q_b_.data() + ((row0 + r) * nq + group * heads_per_group) * hd);
        }
      }};
  const auto to_cache = [&](auto write, float* block, std::int64_t ld, std::int64_t row0, std::int64_t rows,
                            std::int64_t group) {
    const std::int64_t heads = heads_in(group, nkv);
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto t = static_cast<std::size_t>(row0 + r);
      for (std::int64_t i = 0; i < heads; ++i)
        write(cache, token_tables_[t], positions_[t], group * heads_per_group + i, block + r * ld + i * hd);
    }
  };
  const GemmEpilogue k_out{group_panels, [&](float* block, std::int64_t ld, std::int64_t row0,
                                             std::int64_t rows, std::int64_t group) {
                             norm_rope(block, ld, row0, rows, heads_in(group, nkv), lw.k_norm);
                             to_cache(write_key, block, ld, row0, rows, group);
                           }};
  const GemmEpilogue v_out{group_panels,
                           [&](float* block, std::int64_t ld, std::int64_t row0, std::int64_t rows,
                               std::int64_t group) { to_cache(write_value, block, ld, row0, rows, group); }};
  const GemmParams qkv[] = {{xb_.data(), h, pw.q_proj, nullptr, 0, n, &q_out},
                            {xb_.data(), h, pw.k_proj, nullptr, 0, n, &k_out},
                            {xb_.data(), h, pw.v_proj, nullptr, 0, n, &v_out}};
  gemm_bf16_many(qkv, pool_, isa_);
}

void CpuRank::attention_block(const CpuLayerWeights& lw, const CpuPackedLayer& pw, std::int64_t layer,
                              std::int64_t n) {
  const std::int64_t h = config_.hidden_size, hd = config_.head_dim;
  const std::int64_t nq = shard_.num_q_heads, nkv = shard_.num_kv_heads;
  norm_rows_to_bf16(hidden_.data(), lw.input_norm, n, xb_.data());
  const KvCacheView cache{k_cache_.get() + layer * kv_elems_per_layer_,
                          v_cache_.get() + layer * kv_elems_per_layer_, nkv, hd, block_size_};
  project_qkv(lw, pw, cache, n);

  PagedAttentionParams ap;
  ap.q = q_b_.data();
  ap.out_bf16 = attn_b_.data();
  ap.k_cache = cache.k;
  ap.v_cache = cache.v;
  ap.positions = positions_.data();
  ap.block_tables = token_tables_.data();
  ap.num_tokens = n;
  ap.num_heads = nq;
  ap.num_kv_heads = nkv;
  ap.head_dim = hd;
  ap.block_size = block_size_;
  ap.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  paged_attention(ap, pool_);

  const std::int64_t qw = nq * hd;
  gemm(attn_b_.data(), qw, pw.o_proj, proj_.data(), n);
  if (shard_.world_size > 1) comm_->all_reduce_sum(proj_.data(), n * h);
  add_projection_to_residual(n);
}

void CpuRank::mlp_block(const CpuLayerWeights& lw, const CpuPackedLayer& pw, std::int64_t n) {
  const std::int64_t h = config_.hidden_size, inter = shard_.inter_size;
  norm_rows_to_bf16(hidden_.data(), lw.post_attention_norm, n, xb_.data());
  // gate and up come interleaved, 64 columns of each in turn: each pair goes
  // through SiLU-and-multiply while in cache.
  constexpr std::int64_t kCols = PackedMatrix::kPanelRows;
  const GemmEpilogue silu_mul{
      2, [&](float* block, std::int64_t ld, std::int64_t row0, std::int64_t rows, std::int64_t group) {
        const std::int64_t col0 = group * kCols, cols = std::min(kCols, inter - col0);
        for (std::int64_t r = 0; r < rows; ++r) {
          silu_mul_to_bf16(block + r * ld, block + r * ld + kCols, cols,
                           act_b_.data() + (row0 + r) * inter + col0);
        }
      }};
  GemmParams gate_up{xb_.data(), h, pw.gate_up, nullptr, 0, n, &silu_mul};
  gemm_bf16(gate_up, pool_, isa_);
  gemm(act_b_.data(), inter, pw.down_proj, proj_.data(), n);
  if (shard_.world_size > 1) comm_->all_reduce_sum(proj_.data(), n * h);
  add_projection_to_residual(n);
}

void CpuRank::forward(const StepPlan& plan) {
  const std::int64_t h = config_.hidden_size, hd = config_.head_dim, half = hd / 2;
  // Flatten the plan: one row per computed token.
  tokens_.clear();
  positions_.clear();
  token_tables_.clear();
  sample_rows_.clear();
  for (const ScheduledSequence& s : plan.sequences) {
    for (std::int32_t i = 0; i < s.num_tokens; ++i) {
      const std::int32_t pos = s.start_position + i;
      tokens_.push_back(s.token_ids[static_cast<std::size_t>(pos)]);
      positions_.push_back(pos);
      token_tables_.push_back(s.block_table.data());
    }
    if (s.sample) sample_rows_.push_back(static_cast<std::int64_t>(tokens_.size()) - 1);
  }
  const std::int64_t n = static_cast<std::int64_t>(tokens_.size());
  sized(hidden_, n * h);
  sized(xb_, n * std::max<std::int64_t>(h, 1));
  sized(q_b_, n * shard_.num_q_heads * hd);
  sized(attn_b_, n * shard_.num_q_heads * hd);
  sized(proj_, n * h);
  sized(act_b_, n * shard_.inter_size);
  sized(cos_, n * half);
  sized(sin_, n * half);
  pool_.parallel_for(n, [&](std::int64_t t) {
    const double pos = positions_[static_cast<std::size_t>(t)];
    for (std::int64_t i = 0; i < half; ++i) {
      const double angle = pos * rope_.inv_freq[static_cast<std::size_t>(i)];
      cos_[static_cast<std::size_t>(t * half + i)] =
          static_cast<float>(std::cos(angle) * rope_.attention_scaling);
      sin_[static_cast<std::size_t>(t * half + i)] =
          static_cast<float>(std::sin(angle) * rope_.attention_scaling);
    }
  });

  embed(n);
  for (std::int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    const CpuLayerWeights& lw = weights_->layers[static_cast<std::size_t>(layer)];
    const CpuPackedLayer& pw = packed_->layers[static_cast<std::size_t>(layer)];
    attention_block(lw, pw, layer, n);
    mlp_block(lw, pw, n);
  }

  // Final norm and lm_head for the sampled rows only.
  const std::int64_t s = static_cast<std::int64_t>(sample_rows_.size());
  if (s == 0) return;
  std::vector<float> last(static_cast<std::size_t>(s * h));
  for (std::int64_t r = 0; r < s; ++r) {
    std::memcpy(last.data() + r * h, hidden_.data() + sample_rows_[static_cast<std::size_t>(r)] * h,
                static_cast<std::size_t>(h) * sizeof(float));
  }
  norm_rows_to_bf16(last.data(), weights_->final_norm, s, xb_.data());
  const std::int64_t vp = shard_.vocab_padded;
  float* local = sized(logits_local_, s * vp);
  std::fill(local, local + s * vp, -std::numeric_limits<float>::infinity());  // rows past the vocabulary
  GemmParams p{xb_.data(), h, packed_->lm_head, local, vp, s};
  gemm_bf16(p, pool_, isa_);
  const std::int64_t width = logits_stride();
  logits_.resize(static_cast<std::size_t>(s * width));
  if (shard_.world_size == 1) {
    std::copy(local, local + s * vp, logits_.begin());
    return;
  }
  // Gather [rank][row][vp] and lay it out as [row][rank * vp].
  std::vector<float> gathered(static_cast<std::size_t>(shard_.world_size * s * vp));
  comm_->all_gather(local, s * vp, gathered.data());
  for (int r = 0; r < shard_.world_size; ++r) {
    for (std::int64_t row = 0; row < s; ++row) {
      std::memcpy(logits_.data() + row * width + r * vp, gathered.data() + (r * s + row) * vp,
                  static_cast<std::size_t>(vp) * sizeof(float));
    }
  }
}

}  // namespace pagoda::cpu
