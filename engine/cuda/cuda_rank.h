// CudaRank: one tensor-parallel rank of CudaModelRunner on one GPU — its
// weight shard, KV cache shard, step workspaces, cuBLASLt handle and stream —
// running the Qwen 3 forward pass of a FlatStep. All device work of a step is
// enqueued on one stream; forward() returns when the step's tokens (and
// logits, when asked) are in host memory. Rank 0 gathers every shard's logits
// and chooses the tokens; the other ranks only compute. Used by exactly one
// thread (its rank thread), which must have made the rank's device current.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "base/status.h"
#include "cuda/cublaslt_gemm.h"
#include "cuda/device_buffer.h"
#include "cuda/launch_order.h"
#include "cuda/skinny_gemm_kernel.h"
#include "engine/cpu/cpu_weights.h"
#include "engine/cuda/cuda_gemm.h"
#include "engine/cuda/cuda_weights.h"
#include "engine/cuda/device_sample_batch.h"
#include "engine/cuda/gemm_kernel_choice.h"
#include "engine/cuda/nccl_communicator.h"
#include "engine/flat_step.h"
#include "engine/model/model_config.h"

namespace pagoda::cuda {

// Per-step limits that size the workspaces at start-up.
struct CudaStepLimits {
  std::int32_t max_tokens = 8192;     // tokens computed in one step
  std::int32_t max_seqs = 256;        // sequences in one step (sampled rows)
  std::int32_t max_model_len = 4096;  // longest sequence
  std::int32_t block_size = 16;
};

// How a rank runs its kernels (from CudaRunnerOptions).
struct CudaKernelChoices {
  bool programmatic_launch = false;  // LaunchOrder::kProgrammatic on compute capability 9.0+
  // Decode steps of up to 4 rows without a communicator: the residual adds
  // and RMSNorms inside the skinny GEMMs (their prologue and epilogue), two
  // kernels fewer per layer, the same bits.
  bool fused_decode = true;
  // Every token's results independent of the rest of the batch, bit for bit:
  // every GEMM through launch_invariant_gemm (one k order per element, any
  // m), every token's attention through the prefill kernel (decode rows as
  // one-token tiles: no split chosen by batch size, and a token attends alike
  // as a decode, inside a prefill chunk or recomputed after preemption), no
  // fused decode. Sums across ranks: NCCL's all-reduce at tp 2 (a + b ==
  // b + a); with more ranks an all-gather and launch_rank_sum (rank order).
  bool batch_invariant = false;
  // The batch-invariant mode's attention restarts its online softmax every
  // this many positions (a multiple of kPrefillKvSplitUnit; 0: never, and
  // with head_dim > 128 never) and folds the splits in order, so that a
  // long context's decode can spread over several CTAs and keep its bits.
  int invariant_kv_split = 512;
  // GEMM shapes met at start-up are timed on each kernel that can take
  // them, the fastest kept (GemmKernelChoice); false: the fixed rule.
  bool tune_gemms = true;
  // Tests: times GEMM kernels in place of the GPU (ms; negative: failed).
  std::function<double(GemmKernel, const GemmShape&)> gemm_timer = nullptr;
};

// How a rank with a communicator waits for its stream (NcclCommunicator::wait).
struct CollectiveWait {
  std::stop_token group_failed;  // requested when another rank of this process fails a step
  double timeout_s = 0;          // gives up after this long (0: never): collective_timeout_s
};

class CudaRank {
 public:
  static std::int64_t kv_bytes_per_block(const ModelConfig& config, const cpu::RankShard& shard,
                                         std::int32_t block_size);
  // Bytes of device workspace create() allocates besides weights and KV
  // (rank 0's hold the whole vocabulary's logits and the sampler's buffers).
  static std::int64_t workspace_bytes(const ModelConfig& config, const cpu::RankShard& shard,
                                      const CudaStepLimits& limits, bool has_communicator,
                                      CudaKernelChoices choices);

  // `comm` (this shard's rank of a group of shard.world_size) may be null
  // only at tp 1; with one, collectives run through NCCL even at tp 1. `gemm` was created on this
  // device (its workspace counts as memory in use before planning). One KV
  // block beyond num_kv_blocks is allocated: the scratch block padding rows of
  // a CUDA-graph batch write to. With a communicator, the rank waits for its
  // stream as `waits` says.
  [[nodiscard]] static StatusOr<std::unique_ptr<CudaRank>> create(
      const ModelConfig& config, const cpu::RankShard& shard, std::unique_ptr<CudaWeights> weights,
      std::unique_ptr<CublasLtGemm> gemm, std::unique_ptr<NcclCommunicator> comm,
      const CudaStepLimits& limits, std::int32_t num_kv_blocks, CudaKernelChoices choices,
      CollectiveWait waits = {});
  ~CudaRank();

  // The decode batch sizes worth a CUDA graph, ascending: 1, 2, 4, 8, then
  // steps up to max_seqs (and max_tokens).
  std::vector<std::int64_t> decode_graph_sizes() const;
  // Captures the graph of one decode batch size, larger than any captured
  // before; decode-only steps then replay the smallest that fits, padded. The
  // collectives are captured too: with tp > 1 every rank of the group must
  // call this at the same time (each warm-up before a capture runs them).
  Status capture_decode_graph(std::int64_t batch_size);
  std::size_t num_graphs() const { return graphs_.size(); }
  std::int64_t largest_graph() const { return graphs_.empty() ? 0 : graphs_.back().batch_size; }
  // Ends start-up's timing of GEMM kernels and cuBLASLt's candidates (the
  // eager run before each capture times the decode shapes): every GEMM shape
  // met later takes the fixed rule, so no served step stalls to time one.
  void stop_tuning_gemms() { gemms_->stop_tuning(); }
  std::size_t num_gemm_timings() const { return gemms_->num_timings(); }  // CudaGemm::num_timings
  std::string describe_gemm_choices() const { return gemms_->describe(); }

  // Most logit edits (penalties, bias, bans) one step's device sampling takes.
  static constexpr std::int64_t kMaxSampleEdits = 1 << 18;

  // Runs the step; every rank of a group runs the same step at the same time.
  // Afterwards, on rank 0 only (null elsewhere): greedy_ids() holds each
  // sampled row's argmax token; with `sampling` (rank 0 only; at most max_seqs
  // rows and kMaxSampleEdits edits), sampled() holds the device sampler's
  // choice for each of its rows; when copy_logits, logits() holds [sampled
  // rows, logits_stride()] f32 in host memory, the vocabulary in token order.
  Status forward(const FlatStep& step, bool copy_logits, const DeviceSampleBatch* sampling = nullptr);
  const float* logits() const { return logits_host_; }
  const std::int32_t* greedy_ids() const { return ids_host_; }
  const SampleRowOutput* sampled() const { return sampled_host_; }
  std::int64_t logits_stride() const { return shard_.vocab_padded * shard_.world_size; }
  // Device time of the last step, from its input copy to its last kernel (events).
  double last_device_ms() const { return last_device_ms_; }
  LaunchOrder launch_order() const { return launch_order_; }

  bool has_communicator() const { return comm_ != nullptr; }
  // After a failed step in a group: destroys the decode graphs, aborts this
  // rank's communicator, so that its collectives in flight (waiting for a
  // rank that will never join them) end, then waits for its stream to drain.
  // Collectives are refused after; the group cannot run steps again.
  // Idempotent.
  void abandon_step();

 private:
  struct Workspace;
  struct Layout;
  struct Graph {
    std::int64_t batch_size = 0;
    std::int64_t num_splits = 1;  // decode attention grid's split extent
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
  };
  CudaRank(const ModelConfig& config, const cpu::RankShard& shard, const CudaStepLimits& limits);
  // Copies the step's index arrays (and the decode attention split size) into
  // the inputs region at `layout`'s offsets.
  Status stage(const FlatStep& step, const Layout& layout, std::int32_t split_size);
  // Every kernel of a step whose inputs were staged at `layout`; no host sync,
  // no host-dependent values beyond the arguments (so it can be captured).
  Status enqueue_forward(const Layout& layout, std::int64_t num_splits);
  // Rank 0: the gathered shards' logits into one row per sampled row
  // (vocab_shard_copies).
  Status assemble_vocab_logits(std::int64_t num_sampled);
  Status enqueue_layer(const CudaLayerWeights& lw, std::int64_t layer, const Layout& layout,
                       std::int64_t num_splits);
  Status all_reduce(float* data, std::int64_t count);
  // y = x · wᵀ as skinny GEMM arguments (ldy 0: w.rows).
  SkinnyGemmParams skinny_params(const std::uint16_t* x, const DeviceMatrix& w, float* y, std::int64_t m,
                                 std::int64_t ldy = 0) const;
  // y = x · wᵀ (CudaGemm::run; a new shape's timing drains the stream first).
  Status gemm(const std::uint16_t* x, const DeviceMatrix& w, float* y, std::int64_t m, std::int64_t ldy = 0);
  // act = SwiGLU(x · gate_upᵀ) [m, inter] bf16: decode batches in one skinny
  // GEMM with the activation in its epilogue, larger m through gate_up [m,
  // 2 inter] f32 and silu_mul. Equal bit for bit either way.
  Status gate_up_act(const std::uint16_t* x, const DeviceMatrix& gate_up_w, float* gate_up,
                     std::uint16_t* act, std::int64_t m);
  // Whether a step of n rows runs the fused decode layer (CudaKernelChoices).
  bool fused_decode(std::int64_t n) const;
  Status enqueue_fused_layer(const CudaLayerWeights& lw, std::int64_t layer, const Layout& layout,
                             std::int64_t num_splits);
  // The layer's attention: qk_norm_rope (K/V into the cache), then the decode
  // and prefill attention kernels, q/k/v from w.qkv into w.attn_b.
  Status enqueue_attention(const CudaLayerWeights& lw, std::int64_t layer, const Layout& layout,
                           std::int64_t num_splits);
  // decode_attention_splits with this rank's KV heads, SMs and workspace.
  std::int64_t splits_for(std::int64_t num_decode, std::int64_t max_context) const;
  // The batch-invariant mode's decode tiles of a step laid out as `layout`:
  // the grid rows their KV splits run apart in (0: a tile's splits in one CTA).
  int invariant_split_slots(const Layout& layout) const;
  // KV splits a context of max_context positions has (kv_split_ > 0).
  std::int64_t max_kv_splits(std::int64_t max_context) const;
  // A decode-only step padded to `batch_size` rows (padding writes the
  // scratch block); in the batch-invariant mode its rows are one-token tiles.
  void pad_decode_step(const FlatStep& step, std::int64_t batch_size, FlatStep* out) const;
  // The layout of a padded decode step of `batch_size` rows (pad_decode_step).
  Layout decode_layout(std::int64_t batch_size) const;
  // Uploads the rows and edits and launches the device sampler on the logits
  // (the rows' histories through the block tables staged at `layout`).
  Status enqueue_sampling(const DeviceSampleBatch& sampling, const Layout& layout);
  Status copy_outputs(std::int64_t num_sampled, bool copy_logits, std::int64_t num_device_sampled);
  void destroy_graphs();
  // Waits for the stream: blocking without a communicator, else polling
  // (NcclCommunicator::wait) so that a failed peer cannot hang this rank.
  Status wait_for_stream(const char* what);

  const ModelConfig& config_;
  cpu::RankShard shard_;
  CudaStepLimits limits_;
  int num_sms_ = 0;
  LaunchOrder launch_order_ = LaunchOrder::kSerial;  // of every kernel of ours
  bool fused_decode_ = true;
  bool batch_invariant_ = false;
  int kv_split_ = 0;  // PrefillAttentionParams::kv_split of every attention launch (batch-invariant mode)
  double rope_attention_scaling_ = 1.0;  // YaRN's cos/sin factor (inv_freq lives on the device)
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CudaWeights> weights_;
  std::unique_ptr<CudaGemm> gemms_;
  std::unique_ptr<NcclCommunicator> comm_;
  CollectiveWait waits_;
  std::int64_t kv_elems_per_layer_ = 0;
  DeviceBuffer k_cache_, v_cache_;  // [layers][blocks][kv heads][block_size][head_dim] bf16
  // Rank 0: [blocks][block_size] the token id each slot's K and V are of
  // (written by the embedding kernel), the device sampler's histories.
  DeviceBuffer slot_tokens_;
  DeviceBuffer workspace_buffer_;
  std::unique_ptr<Workspace> ws_;
  std::int32_t scratch_block_ = 0;  // == num_kv_blocks: never handed to the scheduler
  std::vector<Graph> graphs_;       // ascending batch size
  cudaEvent_t step_start_ = nullptr, step_end_ = nullptr;
  double last_device_ms_ = 0.0;
  FlatStep padded_;  // reused for graph replays
  FlatStep tiled_;   // reused for eager steps' decode rows as tiles (batch-invariant mode)
  // Pinned host memory: the step's packed index arrays; on rank 0 also the
  // greedy ids, logits and the device sampler's rows and choices.
  void* staging_host_ = nullptr;
  std::int32_t* ids_host_ = nullptr;
  float* logits_host_ = nullptr;
  void* sample_staging_host_ = nullptr;  // [max_seqs] SampleRowParams, then [kMaxSampleEdits] LogitEdit
  SampleRowOutput* sampled_host_ = nullptr;
};

}  // namespace pagoda::cuda
