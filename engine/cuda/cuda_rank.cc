#include "engine/cuda/cuda_rank.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <span>

#include "cuda/add_rms_norm_kernel.h"
#include "cuda/argmax_kernel.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_status.h"
#include "cuda/embedding_kernel.h"
#include "cuda/invariant_gemm_kernel.h"
#include "cuda/paged_attention_kernel.h"
#include "cuda/prefill_attention_kernel.h"
#include "cuda/qk_norm_rope_kernel.h"
#include "cuda/rank_sum_kernel.h"
#include "cuda/rope_table_kernel.h"
#include "cuda/sample_kernel.h"
#include "cuda/silu_mul_kernel.h"
#include "cuda/skinny_gemm_kernel.h"
#include "engine/cuda/cuda_rank_layout.h"
#include "engine/cuda/decode_attention_split.h"
#include "engine/cuda/vocab_shard_copies.h"
#include "engine/rope.h"

namespace pagoda::cuda {
namespace {

static_assert(sizeof(FlatTile) == sizeof(PrefillTile) && sizeof(FlatTile) == 16,
              "FlatTile and PrefillTile are the same four int32s");

// Decode steps of at most this many rows run the skinny GEMM's fused forms
// (SwiGLU epilogue, the fused decode layer).
constexpr std::int64_t kSkinnyRows = GemmKernelChoice::kSkinnyRows;

// Query heads a one-token decode tile packs into one CTA: the largest power of
// two dividing the group (all of it for every Qwen 3 shape), at most 64.
std::int64_t decode_tile_heads(std::int64_t group) {
  return std::min<std::int64_t>(group & -group, kPrefillTileRows);
}

}  // namespace

std::int64_t CudaRank::kv_bytes_per_block(const ModelConfig& c, const cpu::RankShard& s,
                                          std::int32_t block_size) {
  const std::int64_t token_ids = s.rank == 0 ? 4LL * block_size : 0;  // slot_tokens_
  return 2LL * c.num_hidden_layers * s.num_kv_heads * block_size * c.head_dim * 2 + token_ids;
}

std::int64_t CudaRank::workspace_bytes(const ModelConfig& c, const cpu::RankShard& s, const CudaStepLimits& l,
                                       bool has_communicator, CudaKernelChoices choices) {
  return Workspace::lay_out(c, s, l, has_communicator, choices, nullptr).bytes;
}

CudaRank::CudaRank(const ModelConfig& config, const cpu::RankShard& shard, const CudaStepLimits& limits)
    : config_(config), shard_(shard), limits_(limits) {}

CudaRank::~CudaRank() {
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
  destroy_graphs();
  if (step_start_ != nullptr) cudaEventDestroy(step_start_);
  if (step_end_ != nullptr) cudaEventDestroy(step_end_);
  if (staging_host_ != nullptr) cudaFreeHost(staging_host_);
  if (ids_host_ != nullptr) cudaFreeHost(ids_host_);
  if (logits_host_ != nullptr) cudaFreeHost(logits_host_);
  if (sample_staging_host_ != nullptr) cudaFreeHost(sample_staging_host_);
  if (sampled_host_ != nullptr) cudaFreeHost(sampled_host_);
}

StatusOr<std::unique_ptr<CudaRank>> CudaRank::create(const ModelConfig& config, const cpu::RankShard& shard,
                                                     std::unique_ptr<CudaWeights> weights,
                                                     std::unique_ptr<CublasLtGemm> gemm,
                                                     std::unique_ptr<NcclCommunicator> comm,
                                                     const CudaStepLimits& limits, std::int32_t num_kv_blocks,
                                                     CudaKernelChoices choices, CollectiveWait waits) {
  auto r = std::unique_ptr<CudaRank>(new CudaRank(config, shard, limits));
  r->weights_ = std::move(weights);
  r->comm_ = std::move(comm);
  r->waits_ = std::move(waits);
  r->scratch_block_ = num_kv_blocks;
  int device = 0;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  PAGODA_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&r->num_sms_, cudaDevAttrMultiProcessorCount, device));
  int major = 0;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  r->launch_order_ = choices.programmatic_launch && major >= 9 && kernels_wait_for_programmatic_launch()
                         ? LaunchOrder::kProgrammatic
                         : LaunchOrder::kSerial;
  r->fused_decode_ = choices.fused_decode;
  r->batch_invariant_ = choices.batch_invariant;
  if (choices.batch_invariant && config.head_dim <= 128) r->kv_split_ = choices.invariant_kv_split;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&r->stream_, cudaStreamNonBlocking));
  r->gemms_ = std::make_unique<CudaGemm>(
      std::move(gemm), CudaGemm::Setup{r->stream_, r->launch_order_, r->num_sms_, choices.batch_invariant,
                                       choices.tune_gemms, choices.gemm_timer});
  PAGODA_CUDA_RETURN_IF_ERROR(cudaEventCreate(&r->step_start_));
  PAGODA_CUDA_RETURN_IF_ERROR(cudaEventCreate(&r->step_end_));

  r->kv_elems_per_layer_ =
      static_cast<std::int64_t>(num_kv_blocks + 1) * shard.num_kv_heads * limits.block_size * config.head_dim;
  const auto kv_bytes = static_cast<std::size_t>(r->kv_elems_per_layer_ * config.num_hidden_layers * 2);
  PAGODA_ASSIGN_OR_RETURN(r->k_cache_, DeviceBuffer::allocate(kv_bytes, "the K cache"));
  PAGODA_ASSIGN_OR_RETURN(r->v_cache_, DeviceBuffer::allocate(kv_bytes, "the V cache"));
  if (shard.rank == 0) {
    const auto slots =
        static_cast<std::size_t>(num_kv_blocks + 1) * static_cast<std::size_t>(limits.block_size);
    PAGODA_ASSIGN_OR_RETURN(r->slot_tokens_,
                            DeviceBuffer::allocate(slots * sizeof(std::int32_t), "the KV cache's token ids"));
    // -1 (no token) until a step writes a slot: a history never reads one
    // unwritten, and if it did, the sampler would skip it.
    PAGODA_CUDA_RETURN_IF_ERROR(cudaMemset(r->slot_tokens_.get(), 0xff, slots * sizeof(std::int32_t)));
  }

  if (r->comm_ != nullptr && (r->comm_->world_size() != shard.world_size || r->comm_->rank() != shard.rank)) {
    return internal_error("rank " + std::to_string(shard.rank) + " of " + std::to_string(shard.world_size) +
                          " was given the communicator of rank " + std::to_string(r->comm_->rank()) + " of " +
                          std::to_string(r->comm_->world_size()));
  }
  const bool gathers = r->comm_ != nullptr;
  const Workspace sizes = Workspace::lay_out(config, shard, limits, gathers, choices, nullptr);
  PAGODA_ASSIGN_OR_RETURN(r->workspace_buffer_, DeviceBuffer::allocate(static_cast<std::size_t>(sizes.bytes),
                                                                       "the step workspaces"));
  r->ws_ = std::make_unique<Workspace>(
      Workspace::lay_out(config, shard, limits, gathers, choices, r->workspace_buffer_.as<std::uint8_t>()));

  PAGODA_CUDA_RETURN_IF_ERROR(
      cudaMallocHost(&r->staging_host_, static_cast<std::size_t>(Workspace::inputs_bytes(limits))));
  if (shard.rank == 0) {
    const auto seqs = static_cast<std::size_t>(limits.max_seqs);
    PAGODA_CUDA_RETURN_IF_ERROR(
        cudaMallocHost(reinterpret_cast<void**>(&r->ids_host_), seqs * sizeof(std::int32_t)));
    const std::size_t logits_floats = seqs * static_cast<std::size_t>(r->logits_stride());
    PAGODA_CUDA_RETURN_IF_ERROR(
        cudaMallocHost(reinterpret_cast<void**>(&r->logits_host_), logits_floats * sizeof(float)));
    PAGODA_CUDA_RETURN_IF_ERROR(cudaMallocHost(
        &r->sample_staging_host_, seqs * sizeof(SampleRowParams) + kMaxSampleEdits * sizeof(LogitEdit)));
    PAGODA_CUDA_RETURN_IF_ERROR(
        cudaMallocHost(reinterpret_cast<void**>(&r->sampled_host_), seqs * sizeof(SampleRowOutput)));
  }

  const RopeFrequencies rope = rope_frequencies(config);
  r->rope_attention_scaling_ = rope.attention_scaling;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaMemcpy(r->ws_->inv_freq, rope.inv_freq.data(),
                                         rope.inv_freq.size() * sizeof(double), cudaMemcpyHostToDevice));
  // A cudaMemcpy from pageable memory (this one, the weights' upload) may
  // return before its DMA lands, and a cudaMemset (the token ids') before it
  // runs, on the legacy stream, which stream_ (non-blocking) does not wait
  // for: the device has them before any kernel.
  PAGODA_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  return r;
}

Status CudaRank::all_reduce(float* data, std::int64_t count) {
  if (comm_ == nullptr) return ok_status();
  if (ws_->rank_parts == nullptr) return comm_->enqueue_all_reduce_sum(data, count, stream_);
  PAGODA_RETURN_IF_ERROR(comm_->enqueue_all_gather(data, count, ws_->rank_parts, stream_));
  RankSumParams rs;
  rs.parts = ws_->rank_parts;
  rs.out = data;
  rs.count = count;
  rs.num_ranks = shard_.world_size;
  return cuda_status(launch_rank_sum(rs, stream_, launch_order_), "launch_rank_sum");
}

SkinnyGemmParams CudaRank::skinny_params(const std::uint16_t* x, const DeviceMatrix& w, float* y,
                                         std::int64_t m, std::int64_t ldy) const {
  return gemms_->skinny_params(x, w, y, m, ldy);
}

Status CudaRank::gemm(const std::uint16_t* x, const DeviceMatrix& w, float* y, std::int64_t m,
                      std::int64_t ldy) {
  return gemms_->run(x, w, y, m, ldy, [this] { return wait_for_stream("the work before timing a GEMM"); });
}

Status CudaRank::gate_up_act(const std::uint16_t* x, const DeviceMatrix& gate_up_w, float* gate_up,
                             std::uint16_t* act, std::int64_t m) {
  const std::int64_t inter = gate_up_w.rows / 2;
  SkinnyGemmParams sp = skinny_params(x, gate_up_w, nullptr, m);
  sp.act = act;
  sp.ldact = inter;
  if (!batch_invariant_ && m <= kSkinnyRows && skinny_gemm_supports(sp))
    return cuda_status(launch_skinny_gemm(sp, stream_, launch_order_), "launch_skinny_gemm (SwiGLU)");
  PAGODA_RETURN_IF_ERROR(gemm(x, gate_up_w, gate_up, m));
  SiluMulParams sm;
  sm.gate_up = gate_up;
  sm.out = act;
  sm.num_tokens = m;
  sm.inter = inter;
  return cuda_status(launch_silu_mul(sm, stream_, launch_order_), "launch_silu_mul");
}

std::int64_t CudaRank::splits_for(std::int64_t num_decode, std::int64_t max_context) const {
  return decode_attention_splits(num_decode, shard_.num_kv_heads, max_context, num_sms_, ws_->split_rows);
}

std::int64_t CudaRank::max_kv_splits(std::int64_t max_context) const {
  return (std::max<std::int64_t>(max_context, 1) + kv_split_ - 1) / kv_split_;
}

int CudaRank::invariant_split_slots(const Layout& l) const {
  if (kv_split_ == 0) return 0;
  const std::int64_t nq = shard_.num_q_heads;
  return invariant_decode_split_slots(l.n, l.ndt, nq, decode_tile_heads(nq / shard_.num_kv_heads),
                                      max_kv_splits(l.max_context), num_sms_, ws_->split_rows);
}

Status CudaRank::stage(const FlatStep& step, const Layout& l, std::int32_t split_size) {
  auto* staging = static_cast<std::uint8_t*>(staging_host_);
  auto put = [&](std::int64_t offset, const void* src, std::size_t bytes) {
    if (bytes > 0) std::memcpy(staging + offset, src, bytes);
  };
  const auto n = static_cast<std::size_t>(step.num_tokens());
  put(l.slots, step.slot_mapping.data(), n * 8);
  put(l.tiles, step.prefill_tiles.data(), step.prefill_tiles.size() * sizeof(FlatTile));
  put(l.decode_tiles, step.decode_tiles.data(), step.decode_tiles.size() * sizeof(FlatTile));
  put(l.tokens, step.tokens.data(), n * 4);
  put(l.positions, step.positions.data(), n * 4);
  put(l.table_offsets, step.block_table_offsets.data(), n * 4);
  put(l.sample_rows, step.sample_rows.data(), step.sample_rows.size() * 4);
  put(l.decode_rows, step.decode_rows.data(), step.decode_rows.size() * 4);
  put(l.split_size, &split_size, 4);
  put(l.tables, step.block_tables.data(), step.block_tables.size() * 4);
  const auto bytes = static_cast<std::size_t>(l.tables) + step.block_tables.size() * 4;
  return cuda_status(cudaMemcpyAsync(ws_->inputs, staging, bytes, cudaMemcpyHostToDevice, stream_),
                     "copying the step's inputs");
}

Status CudaRank::enqueue_layer(const CudaLayerWeights& lw, std::int64_t layer, const Layout& l,
                               std::int64_t num_splits) {
  if (fused_decode(l.n)) return enqueue_fused_layer(lw, layer, l, num_splits);
  Workspace& w = *ws_;
  const std::int64_t n = l.n, h = config_.hidden_size;
  // The residual stream still lacks the previous layer's MLP output (in proj).
  AddRmsNormParams norm;
  norm.residual = w.hidden;
  norm.add = layer == 0 ? nullptr : w.proj;
  norm.write_residual = layer != 0;
  norm.weight = lw.input_norm.data;
  norm.out = w.xb;
  norm.rows = n;
  norm.hidden = h;
  norm.eps = static_cast<float>(config_.rms_norm_eps);
  PAGODA_CUDA_RETURN_IF_ERROR(launch_add_rms_norm(norm, stream_, launch_order_));
  PAGODA_RETURN_IF_ERROR(gemm(w.xb, lw.qkv, w.qkv, n));
  PAGODA_RETURN_IF_ERROR(enqueue_attention(lw, layer, l, num_splits));
  PAGODA_RETURN_IF_ERROR(gemm(w.attn_b, lw.o_proj, w.proj, n));
  PAGODA_RETURN_IF_ERROR(all_reduce(w.proj, n * h));
  norm.add = w.proj;
  norm.write_residual = true;
  norm.weight = lw.post_attention_norm.data;
  PAGODA_CUDA_RETURN_IF_ERROR(launch_add_rms_norm(norm, stream_, launch_order_));
  PAGODA_RETURN_IF_ERROR(gate_up_act(w.xb, lw.gate_up, w.gate_up, w.act, n));
  PAGODA_RETURN_IF_ERROR(gemm(w.act, lw.down, w.proj, n));
  return all_reduce(w.proj, n * h);
}

bool CudaRank::fused_decode(std::int64_t n) const {
  const std::int64_t h = config_.hidden_size;
  return fused_decode_ && !batch_invariant_ && comm_ == nullptr && n >= 1 && n <= kSkinnyRows && h % 8 == 0 &&
         shard_.inter_size % 8 == 0 && (shard_.num_q_heads * config_.head_dim) % 8 == 0 &&
         skinny_gemm_norm_bytes(n, h) <= kSkinnyGemmMaxNormBytes;
}

// The unfused layer's kernels with its add_rms_norm kernels folded into the
// skinny GEMMs: o_proj and down add into the residual stream (w.hidden)
// themselves, QKV and gate/up normalise it on the way in. Same bits.
Status CudaRank::enqueue_fused_layer(const CudaLayerWeights& lw, std::int64_t layer, const Layout& l,
                                     std::int64_t num_splits) {
  Workspace& w = *ws_;
  const std::int64_t n = l.n, h = config_.hidden_size;
  const auto launch = [&](const SkinnyGemmParams& p) {
    return cuda_status(launch_skinny_gemm(p, stream_, launch_order_), "launch_skinny_gemm (fused decode)");
  };
  // x = RMSNorm(residual stream) · weight, made in the GEMM's prologue.
  const auto normed = [&](const DeviceMatrix& m, const DeviceMatrix& norm_weight) {
    SkinnyGemmParams p = skinny_params(nullptr, m, nullptr, n);
    p.residual = w.hidden;
    p.ldx = h;
    p.norm_weight = norm_weight.data;
    p.norm_eps = static_cast<float>(config_.rms_norm_eps);
    return p;
  };
  // residual stream += x · mᵀ, in the GEMM's epilogue.
  const auto added = [&](const std::uint16_t* x, const DeviceMatrix& m) {
    SkinnyGemmParams p = skinny_params(x, m, w.hidden, n, h);
    p.accumulate = true;
    return p;
  };
  SkinnyGemmParams qkv = normed(lw.qkv, lw.input_norm);
  qkv.y = w.qkv;
  PAGODA_RETURN_IF_ERROR(launch(qkv));
  PAGODA_RETURN_IF_ERROR(enqueue_attention(lw, layer, l, num_splits));
  PAGODA_RETURN_IF_ERROR(launch(added(w.attn_b, lw.o_proj)));
  SkinnyGemmParams gate_up = normed(lw.gate_up, lw.post_attention_norm);
  gate_up.act = w.act;
  gate_up.ldact = lw.gate_up.rows / 2;
  PAGODA_RETURN_IF_ERROR(launch(gate_up));
  return launch(added(w.act, lw.down));
}

Status CudaRank::enqueue_attention(const CudaLayerWeights& lw, std::int64_t layer, const Layout& l,
                                   std::int64_t num_splits) {
  Workspace& w = *ws_;
  const std::int64_t n = l.n, hd = config_.head_dim;
  const std::int64_t nq = shard_.num_q_heads, nkv = shard_.num_kv_heads;
  const auto eps = static_cast<float>(config_.rms_norm_eps);
  const auto i32 = [&](std::int64_t offset) {
    return reinterpret_cast<const std::int32_t*>(w.inputs + offset);
  };
  std::uint16_t* kc = k_cache_.as<std::uint16_t>() + layer * kv_elems_per_layer_;
  std::uint16_t* vc = v_cache_.as<std::uint16_t>() + layer * kv_elems_per_layer_;
  QkNormRopeParams qk;
  qk.qkv = w.qkv;
  qk.q_norm_weight = lw.q_norm.data;
  qk.k_norm_weight = lw.k_norm.data;
  qk.cos = w.cos;
  qk.sin = w.sin;
  qk.slot_mapping = reinterpret_cast<const std::int64_t*>(w.inputs + l.slots);
  qk.q_out = w.q;
  qk.k_cache = kc;
  qk.v_cache = vc;
  qk.num_tokens = n;
  qk.num_heads = nq;
  qk.num_kv_heads = nkv;
  qk.head_dim = hd;
  qk.block_size = limits_.block_size;
  qk.eps = eps;
  PAGODA_CUDA_RETURN_IF_ERROR(launch_qk_norm_rope(qk, stream_, launch_order_));

  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  if (l.nd > 0) {
    PagedAttentionParams ap;
    ap.q = w.q;
    ap.out = w.attn_b;
    ap.k_cache = kc;
    ap.v_cache = vc;
    ap.positions = i32(l.positions);
    ap.block_tables = i32(l.tables);
    ap.block_table_offsets = i32(l.table_offsets);
    ap.token_rows = i32(l.decode_rows);
    ap.partial_out = w.attn_partial;
    ap.partial_max = w.attn_partial + l.nd * nq * num_splits * hd;
    ap.partial_sum = ap.partial_max + l.nd * nq * num_splits;
    ap.num_tokens = l.nd;
    ap.num_heads = nq;
    ap.num_kv_heads = nkv;
    ap.head_dim = hd;
    ap.block_size = limits_.block_size;
    ap.num_splits = num_splits;
    ap.split_size_on_device = i32(l.split_size);
    ap.scale = scale;
    PAGODA_CUDA_RETURN_IF_ERROR(launch_paged_attention(ap, stream_, launch_order_));
  }
  PrefillAttentionParams pp;
  pp.q = w.q;
  pp.out = w.attn_b;
  pp.k_cache = kc;
  pp.v_cache = vc;
  pp.block_tables = i32(l.tables);
  pp.num_heads = nq;
  pp.num_kv_heads = nkv;
  pp.head_dim = hd;
  pp.block_size = limits_.block_size;
  pp.scale = scale;
  pp.kv_split = kv_split_;
  if (l.nt > 0) {
    pp.tiles = reinterpret_cast<const PrefillTile*>(w.inputs + l.tiles);
    pp.num_tiles = l.nt;
    PAGODA_CUDA_RETURN_IF_ERROR(launch_prefill_attention(pp, stream_, launch_order_));
  }
  if (l.ndt > 0) {
    // One token a tile: a CTA per KV head takes all its query heads, and
    // stages each key tile once for them. The same bits per row as any tiling.
    pp.tiles = reinterpret_cast<const PrefillTile*>(w.inputs + l.decode_tiles);
    pp.num_tiles = l.ndt;
    pp.heads_per_tile = static_cast<int>(decode_tile_heads(nq / nkv));
    // A small batch's long contexts: their splits spread over more CTAs,
    // each writing its split's state for fold_splits_kernel.
    if (const int slots = invariant_split_slots(l); slots > 0) {
      pp.max_splits = static_cast<int>(max_kv_splits(l.max_context));
      const std::int64_t pairs = l.n * nq * pp.max_splits;
      pp.split_slots = slots;
      pp.partial_out = w.attn_partial;
      pp.partial_max = w.attn_partial + pairs * hd;
      pp.partial_sum = pp.partial_max + pairs;
    }
    PAGODA_CUDA_RETURN_IF_ERROR(launch_prefill_attention(pp, stream_, launch_order_));
  }
  return ok_status();
}

Status CudaRank::enqueue_forward(const Layout& l, std::int64_t num_splits) {
  Workspace& w = *ws_;
  const std::int64_t n = l.n, s = l.s, h = config_.hidden_size;
  const auto i32 = [&](std::int64_t offset) {
    return reinterpret_cast<const std::int32_t*>(w.inputs + offset);
  };
  RopeTableParams rt;
  rt.positions = i32(l.positions);
  rt.inv_freq = w.inv_freq;
  rt.attention_scaling = rope_attention_scaling_;
  rt.cos = w.cos;
  rt.sin = w.sin;
  rt.num_tokens = n;
  rt.half = config_.head_dim / 2;
  PAGODA_CUDA_RETURN_IF_ERROR(launch_rope_table(rt, stream_, launch_order_));

  EmbeddingParams ep;
  ep.table = weights_->embedding.data;
  ep.tokens = i32(l.tokens);
  ep.out = w.hidden;
  ep.num_tokens = n;
  ep.hidden = h;
  ep.ld = h;
  ep.vocab_begin = shard_.vocab_begin;
  ep.vocab_size = shard_.vocab_size;
  if (slot_tokens_.get() != nullptr) {
    ep.slots = reinterpret_cast<const std::int64_t*>(w.inputs + l.slots);
    ep.slot_tokens = slot_tokens_.as<std::int32_t>();
  }
  PAGODA_CUDA_RETURN_IF_ERROR(launch_embedding(ep, stream_, launch_order_));
  PAGODA_RETURN_IF_ERROR(all_reduce(w.hidden, n * h));

  for (std::int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    // Another rank of this process failed: this rank's collectives can never
    // complete, and an eager step of a deep model could fill CUDA's launch
    // queue behind one, blocking this thread inside a launch, where it would
    // never see the stop. So stop enqueuing at the next layer.
    if (waits_.group_failed.stop_requested()) {
      return aborted("rank " + std::to_string(shard_.rank) + " stopped enqueuing its step at layer " +
                     std::to_string(layer) + ": another rank of the group failed");
    }
    PAGODA_RETURN_IF_ERROR(
        enqueue_layer(weights_->layers[static_cast<std::size_t>(layer)], layer, l, num_splits));
  }
  if (s == 0) return ok_status();
  AddRmsNormParams fn;
  fn.residual = w.hidden;
  fn.add = fused_decode(n) ? nullptr : w.proj;  // fused: the last down GEMM added it
  fn.row_index = i32(l.sample_rows);
  fn.weight = weights_->final_norm.data;
  fn.out = w.final_xb;
  fn.rows = s;
  fn.hidden = h;
  fn.eps = static_cast<float>(config_.rms_norm_eps);
  PAGODA_CUDA_RETURN_IF_ERROR(launch_add_rms_norm(fn, stream_, launch_order_));
  const std::int64_t vp = shard_.vocab_padded;
  PAGODA_RETURN_IF_ERROR(gemm(w.final_xb, weights_->lm_head, w.logits, s, vp));
  if (comm_ != nullptr) {
    PAGODA_RETURN_IF_ERROR(comm_->enqueue_all_gather(w.logits, s * vp, w.gathered, stream_));
    if (shard_.rank != 0) return ok_status();
    PAGODA_RETURN_IF_ERROR(assemble_vocab_logits(s));
  }
  ArgmaxParams am;
  am.logits = w.vocab_logits;
  am.out = w.ids;
  am.num_out = s;
  am.vocab_size = config_.vocab_size;
  am.row_stride = logits_stride();
  return cuda_status(launch_argmax(am, stream_, launch_order_), "launch_argmax");
}

Status CudaRank::assemble_vocab_logits(std::int64_t s) {
  Workspace& w = *ws_;
  const auto vp = static_cast<std::size_t>(shard_.vocab_padded);
  for (const ShardCopy& c :
       vocab_shard_copies(config_.vocab_size, shard_.vocab_padded, shard_.world_size, s)) {
    PAGODA_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(
        w.vocab_logits + c.dst_column, static_cast<std::size_t>(logits_stride()) * sizeof(float),
        w.gathered + c.src_offset, vp * sizeof(float), static_cast<std::size_t>(c.width) * sizeof(float),
        static_cast<std::size_t>(s), cudaMemcpyDeviceToDevice, stream_));
  }
  return ok_status();
}

Status CudaRank::enqueue_sampling(const DeviceSampleBatch& sampling, const Layout& l) {
  Workspace& w = *ws_;
  const auto rows = static_cast<std::int64_t>(sampling.rows.size());
  const auto edits = static_cast<std::int64_t>(sampling.edits.size());
  if (shard_.rank != 0 || rows > limits_.max_seqs || edits > kMaxSampleEdits)
    return internal_error("device sampling: " + std::to_string(rows) + " rows and " + std::to_string(edits) +
                          " edits exceed this rank's limits");
  if (rows == 0) return ok_status();
  auto* staging = static_cast<std::uint8_t*>(sample_staging_host_);
  const std::size_t row_bytes = static_cast<std::size_t>(rows) * sizeof(SampleRowParams);
  const std::size_t edit_bytes = static_cast<std::size_t>(edits) * sizeof(LogitEdit);
  std::memcpy(staging, sampling.rows.data(), row_bytes);
  if (edit_bytes > 0) std::memcpy(staging + row_bytes, sampling.edits.data(), edit_bytes);
  PAGODA_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(w.sample_rows, staging, row_bytes, cudaMemcpyHostToDevice, stream_));
  if (edit_bytes > 0) {
    PAGODA_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(w.sample_edits, staging + row_bytes, edit_bytes, cudaMemcpyHostToDevice, stream_));
  }
  SampleParams sp;
  sp.logits = w.vocab_logits;
  sp.rows = w.sample_rows;
  sp.edits = w.sample_edits;
  sp.history.slot_tokens = slot_tokens_.as<std::int32_t>();
  sp.history.block_tables = reinterpret_cast<const std::int32_t*>(w.inputs + l.tables);
  sp.history.block_size = limits_.block_size;
  sp.counts = w.token_counts;
  sp.processed = w.processed;
  sp.out = w.sampled;
  sp.num_rows = rows;
  sp.vocab_size = config_.vocab_size;
  sp.row_stride = logits_stride();
  return cuda_status(launch_sample(sp, stream_, launch_order_), "launch_sample");
}

Status CudaRank::copy_outputs(std::int64_t s, bool copy_logits, std::int64_t num_device_sampled) {
  Workspace& w = *ws_;
  PAGODA_CUDA_RETURN_IF_ERROR(cudaEventRecord(step_end_, stream_));
  if (s > 0 && shard_.rank == 0) {
    PAGODA_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(ids_host_, w.ids, static_cast<std::size_t>(s) * 4, cudaMemcpyDeviceToHost, stream_));
    if (num_device_sampled > 0) {
      PAGODA_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(
          sampled_host_, w.sampled, static_cast<std::size_t>(num_device_sampled) * sizeof(SampleRowOutput),
          cudaMemcpyDeviceToHost, stream_));
    }
    if (copy_logits) {
      PAGODA_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(
          logits_host_, w.vocab_logits, static_cast<std::size_t>(s * logits_stride()) * sizeof(float),
          cudaMemcpyDeviceToHost, stream_));
    }
  }
  PAGODA_RETURN_IF_ERROR(wait_for_stream("the forward pass"));
  float ms = 0.0f;
  if (cudaEventElapsedTime(&ms, step_start_, step_end_) == cudaSuccess) last_device_ms_ = ms;
  return ok_status();
}

Status CudaRank::wait_for_stream(const char* what) {
  if (comm_ == nullptr) return cuda_status(cudaStreamSynchronize(stream_), what);
  return comm_->wait(stream_, waits_.group_failed, waits_.timeout_s).with_context(what);
}

void CudaRank::abandon_step() {
  // NCCL (2.26 and later) frees a communicator only once every graph that
  // captured its collectives is destroyed: ncclCommAbort would wait for
  // them forever. Graphs go first; the abort then ends a replay in flight.
  destroy_graphs();
  if (comm_ != nullptr) comm_->abort();
  cudaStreamSynchronize(stream_);  // its error (if any) was the step's
  cudaGetLastError();
}

Status CudaRank::forward(const FlatStep& step, bool copy_logits, const DeviceSampleBatch* sampling) {
  const std::int64_t n = step.num_tokens();
  const auto s = static_cast<std::int64_t>(step.sample_rows.size());
  const auto nb = static_cast<std::int64_t>(step.block_tables.size());
  if (n == 0) return ok_status();
  if (n > limits_.max_tokens || s > limits_.max_seqs || nb >= rank_capacity::block_table_capacity(limits_) ||
      static_cast<std::int64_t>(step.prefill_tiles.size() + step.decode_rows.size()) >
          rank_capacity::max_tiles(limits_)) {
    return internal_error("step of " + std::to_string(n) + " tokens, " + std::to_string(s) +
                          " sampled rows and " + std::to_string(nb) +
                          " blocks exceeds the CUDA runner's limits (" + std::to_string(limits_.max_tokens) +
                          " tokens, " + std::to_string(limits_.max_seqs) + " sequences)");
  }
  PAGODA_CUDA_RETURN_IF_ERROR(cudaEventRecord(step_start_, stream_));
  // Decode-only steps replay the smallest captured graph that holds them.
  if (step.prefill_tiles.empty() && !graphs_.empty() && n <= graphs_.back().batch_size &&
      step.max_context <= limits_.max_model_len) {
    const Graph* g = &graphs_.front();
    while (g->batch_size < n)
      ++g;
    pad_decode_step(step, g->batch_size, &padded_);
    PAGODA_RETURN_IF_ERROR(
        stage(padded_, decode_layout(g->batch_size), decode_split_size(step.max_context, g->num_splits)));
    PAGODA_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(g->exec, stream_));
    if (sampling != nullptr)
      PAGODA_RETURN_IF_ERROR(enqueue_sampling(*sampling, decode_layout(g->batch_size)));
    return copy_outputs(s, copy_logits,
                        sampling != nullptr ? static_cast<std::int64_t>(sampling->rows.size()) : 0);
  }
  const FlatStep* run = &step;
  if (batch_invariant_ && !step.decode_rows.empty()) {
    tiled_ = step;
    decode_rows_as_tiles(&tiled_);
    run = &tiled_;
  }
  Layout l = Layout::of(n, s, static_cast<std::int64_t>(run->decode_rows.size()),
                        static_cast<std::int64_t>(run->prefill_tiles.size()),
                        static_cast<std::int64_t>(run->decode_tiles.size()));
  l.max_context = step.max_context;
  const std::int64_t splits = splits_for(l.nd, step.max_context);
  PAGODA_RETURN_IF_ERROR(stage(*run, l, decode_split_size(step.max_context, splits)));
  PAGODA_RETURN_IF_ERROR(enqueue_forward(l, splits));
  if (sampling != nullptr) PAGODA_RETURN_IF_ERROR(enqueue_sampling(*sampling, l));
  return copy_outputs(s, copy_logits,
                      sampling != nullptr ? static_cast<std::int64_t>(sampling->rows.size()) : 0);
}

}  // namespace pagoda::cuda
