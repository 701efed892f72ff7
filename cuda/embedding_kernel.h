// Embedding gather: one f32 hidden row per token from the bf16 table of this
// rank's vocabulary shard; tokens another rank holds give zero rows (the
// all-reduce that follows fills them in). Where asked, also records each
// token's id at its KV-cache slot (the history the device sampler's penalties
// read, cuda/row_edits.h). Stream-ordered; no host sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

struct EmbeddingParams {
  const std::uint16_t* table = nullptr;  // [vocab_size, hidden] bf16, row stride ld
  const std::int32_t* tokens = nullptr;  // [num_tokens] global token ids
  float* out = nullptr;                  // [num_tokens, hidden]
  std::int64_t num_tokens = 0;
  std::int64_t hidden = 0;
  std::int64_t ld = 0;
  std::int64_t vocab_begin = 0;  // first global id of this shard
  std::int64_t vocab_size = 0;   // rows in this shard
  // Optional: slot_tokens[slots[t]] = tokens[t] for every token t.
  const std::int64_t* slots = nullptr;  // [num_tokens] KV-cache slot of each token
  std::int32_t* slot_tokens = nullptr;  // [KV-cache slots]
};

cudaError_t launch_embedding(const EmbeddingParams& p, cudaStream_t stream,
                             LaunchOrder order = LaunchOrder::kSerial);

}  // namespace pagoda::cuda
