// CpuWeights: one tensor-parallel rank's view of a Qwen 3 checkpoint, as bf16
// matrices read in place from the mapped file (sharding is pointer arithmetic:
// row ranges for column-parallel layers, strided column ranges for row-parallel
// ones). Checkpoints stored in F16/F32 are converted to bf16 once at load, into
// buffers this object owns. Immutable after creation; any thread may read.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "engine/model/checkpoint.h"
#include "engine/model/model_config.h"

namespace pagoda::cpu {

// A [rows, cols] bf16 matrix with row stride ld (elements).
struct Bf16Matrix {
  const std::uint16_t* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t ld = 0;
};

// Which heads, columns and vocabulary rows one rank owns.
struct RankShard {
  int rank = 0;
  int world_size = 1;
  std::int64_t q_head_begin = 0, num_q_heads = 0;    // query heads
  std::int64_t kv_head_begin = 0, num_kv_heads = 0;  // KV heads (replicated when tp > num_kv_heads)
  std::int64_t inter_begin = 0, inter_size = 0;      // MLP intermediate columns
  std::int64_t vocab_begin = 0, vocab_size = 0;      // rows of embedding / lm_head held
  std::int64_t vocab_padded = 0;                     // ceil(vocab / world_size): every rank's logits width

  // Checks the config splits over world_size ranks; errors say which count does not divide.
  static StatusOr<RankShard> make(const ModelConfig& config, int rank, int world_size);
};

struct CpuLayerWeights {
  Bf16Matrix input_norm, post_attention_norm, q_norm, k_norm;  // [1, n] vectors
  Bf16Matrix q_proj, k_proj, v_proj;                           // [local out, hidden]
  Bf16Matrix o_proj;                                           // [hidden, local q]  (strided)
  Bf16Matrix gate_proj, up_proj;                               // [local inter, hidden]
  Bf16Matrix down_proj;                                        // [hidden, local inter] (strided)
};

class CpuWeights {
 public:
  static StatusOr<std::shared_ptr<const CpuWeights>> create(const ModelConfig& config,
                                                            std::shared_ptr<const Checkpoint> checkpoint,
                                                            const RankShard& shard);
  const RankShard& shard() const { return shard_; }
  Bf16Matrix embedding;  // [local vocab, hidden]
  Bf16Matrix lm_head;    // [local vocab, hidden] (the embedding when tied)
  Bf16Matrix final_norm;
  std::vector<CpuLayerWeights> layers;

 private:
  RankShard shard_;
  std::shared_ptr<const Checkpoint> checkpoint_;             // keeps the mapping alive
  std::vector<std::unique_ptr<std::uint16_t[]>> converted_;  // F16/F32 tensors as bf16
};

}  // namespace pagoda::cpu
