// CpuRank: one tensor-parallel rank of CpuModelRunner — its weight shard, KV
// cache shard, thread pool and workspaces — running the Qwen 3 forward pass
// for a StepPlan. Used by exactly one thread (its rank thread).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/communicator.h"
#include "engine/cpu/aligned_buffer.h"
#include "engine/cpu/cpu_isa.h"
#include "engine/cpu/cpu_packed_weights.h"
#include "engine/cpu/cpu_weights.h"
#include "engine/cpu/paged_attention.h"
#include "engine/cpu/thread_pool.h"
#include "engine/model_runner.h"
#include "engine/rope.h"

namespace pagoda::cpu {

class CpuRank {
 public:
  CpuRank(const ModelConfig& config, std::shared_ptr<const CpuWeights> weights,
          std::unique_ptr<const CpuPackedWeights> packed, std::unique_ptr<Communicator> comm, int num_threads,
          CpuIsa isa, std::int32_t num_blocks, std::int32_t block_size);

  // Bytes of K and V for one block, all layers, on this rank.
  static std::int64_t kv_bytes_per_block(const ModelConfig& config, const RankShard& shard,
                                         std::int32_t block_size);

  // Runs the forward pass; afterwards logits() holds [num sampled rows,
  // vocab_padded * world_size] (full vocabulary, gathered) on every rank.
  void forward(const StepPlan& plan);
  const std::vector<float>& logits() const { return logits_; }
  std::int64_t logits_stride() const { return shard_.vocab_padded * shard_.world_size; }
  ThreadPool& pool() { return pool_; }
  const Communicator& communicator() const { return *comm_; }

 private:
  void embed(std::int64_t num_tokens);
  void attention_block(const CpuLayerWeights& lw, const CpuPackedLayer& pw, std::int64_t layer,
                       std::int64_t num_tokens);
  // q, k and v of the step's rows from xb_: q_b_ (normed, rotated, bf16)
  // and the layer's cache slots of the rows' positions.
  void project_qkv(const CpuLayerWeights& lw, const CpuPackedLayer& pw, const KvCacheView& cache,
                   std::int64_t num_tokens);
  void mlp_block(const CpuLayerWeights& lw, const CpuPackedLayer& pw, std::int64_t num_tokens);
  // hidden_ += proj_ for the step's rows (the residual connection).
  void add_projection_to_residual(std::int64_t num_tokens);
  // Faults in every page of [memory, memory + bytes) with this rank's threads.
  void claim_pages(void* memory, std::size_t bytes);
  void gemm(const std::uint16_t* x, std::int64_t ldx, const PackedMatrix& w, float* y, std::int64_t m);
  void norm_rows_to_bf16(const float* x, const Bf16Matrix& w, std::int64_t rows, std::uint16_t* out);

  const ModelConfig& config_;
  std::shared_ptr<const CpuWeights> weights_;       // norms and embedding rows, read in place
  std::unique_ptr<const CpuPackedWeights> packed_;  // what the GEMMs read
  RankShard shard_;
  std::unique_ptr<Communicator> comm_;
  ThreadPool pool_;
  CpuIsa isa_;
  RopeFrequencies rope_;
  std::int32_t block_size_;
  std::int64_t kv_elems_per_layer_;
  AlignedArray<std::uint16_t> k_cache_;  // [layers][blocks][kv heads][block_size][head_dim]
  AlignedArray<std::uint16_t> v_cache_;

  // Per-step inputs, flattened over the plan's tokens.
  std::vector<std::int32_t> tokens_, positions_;
  std::vector<const std::int32_t*> token_tables_;
  std::vector<std::int64_t> sample_rows_;  // token index of each sampled sequence's last token
  std::vector<float> cos_, sin_;           // [tokens, head_dim / 2]
  // Workspaces, grown on demand and reused; cache-line aligned, as every row is
  // when its width is a multiple of 16 floats or 32 bf16 values.
  AlignedVector<float> hidden_, proj_, logits_local_;
  AlignedVector<std::uint16_t> xb_, q_b_, attn_b_, act_b_;
  std::vector<float> logits_;
};

}  // namespace pagoda::cpu
