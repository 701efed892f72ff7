// Causal GQA attention of query tokens over a paged KV cache (CPU). Each query
// token at position p attends to positions 0..p of its own sequence, read
// through that sequence's block table, in fixed chunks of kAttentionKeyChunk
// keys with an online softmax. Every output row is computed by the same
// sequence of roundings whatever other rows share the call, how the call is
// tiled or threaded, and on which ISA path it runs: results are batch
// invariant and bit-identical across paths. Called by the thread that owns
// `pool`.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/cpu/cpu_isa.h"
#include "engine/cpu/thread_pool.h"

namespace pagoda::cpu {

struct PagedAttentionParams {
  const std::uint16_t* q = nullptr;         // [num_tokens, num_heads, head_dim] bf16, normed + rotated
  float* out = nullptr;                     // [num_tokens, num_heads, head_dim]
  std::uint16_t* out_bf16 = nullptr;        // if set: the same rounded to bf16, instead of out
  const std::uint16_t* k_cache = nullptr;   // [num_blocks, num_kv_heads, head_dim / 2, block_size, 2] bf16
  const std::uint16_t* v_cache = nullptr;   // [num_blocks, num_kv_heads, block_size, head_dim] bf16
  const std::int32_t* positions = nullptr;  // [num_tokens] absolute position of each query token
  const std::int32_t* const* block_tables = nullptr;  // [num_tokens] the block table of its sequence
  std::int64_t num_tokens = 0;
  std::int64_t num_heads = 0;     // query heads on this rank
  std::int64_t num_kv_heads = 0;  // KV heads on this rank; num_heads % num_kv_heads == 0
  std::int64_t head_dim = 0;
  std::int64_t block_size = 0;
  float scale = 1.0f;  // head_dim^-0.5
};

// The KV cache layout. Both caches hold block_size * head_dim elements per
// block and KV head. V keeps each key's row; K is stored transposed by pairs
// of dimensions — [head_dim / 2][block_size][2] — so that one 64-byte load
// holds one pair of dimensions of 16 consecutive keys (a run): the scores'
// operand with keys in the lanes. head_dim is even (ModelConfig checks it).
inline std::int64_t k_cache_offset(std::int64_t block, std::int64_t kv_head, std::int64_t slot,
                                   std::int64_t d, std::int64_t num_kv_heads, std::int64_t head_dim,
                                   std::int64_t block_size) {
  return (block * num_kv_heads + kv_head) * block_size * head_dim + ((d / 2) * block_size + slot) * 2 + d % 2;
}
inline std::int64_t v_cache_offset(std::int64_t block, std::int64_t kv_head, std::int64_t slot,
                                   std::int64_t d, std::int64_t num_kv_heads, std::int64_t head_dim,
                                   std::int64_t block_size) {
  return ((block * num_kv_heads + kv_head) * block_size + slot) * head_dim + d;
}

// Keys per online-softmax step: the running maximum, the rescaling of the
// outputs and the weights' exponent move once per chunk. Part of the numerics
// (results depend on it), independent of the cache's block size.
inline constexpr std::int64_t kAttentionKeyChunk = 64;
// Keys per run: a chunk's keys are read as runs of 16 consecutive keys (one
// vector of scores; in place where a run lies in one cache block).
inline constexpr std::int64_t kAttentionKeyRun = 16;
inline constexpr std::int64_t kAttentionRunsPerChunk = kAttentionKeyChunk / kAttentionKeyRun;
// Query tokens that share one pass over their K/V chunks (each chunk's
// values laid out in pairs once for all of them). Not part of the numerics.
// Measured on a 512-token prefill (pagoda_attention_bench): 16 tokens 2.11-2.14
// ms, 32 2.03, 64 1.94-2.01, 128 2.00-2.06.
inline constexpr std::int64_t kAttentionMaxTileTokens = 64;

// Consecutive query tokens of one sequence at consecutive positions (the same
// block table): one unit of work per KV head.
struct AttentionTile {
  std::int64_t first_token = 0;
  std::int64_t num_tokens = 0;
};

// Splits the call's tokens into tiles of at most kAttentionMaxTileTokens.
std::vector<AttentionTile> plan_attention_tiles(const PagedAttentionParams& p);

// Runs on `pool` with the path `isa` (normally detected_isa()).
void paged_attention(const PagedAttentionParams& p, ThreadPool& pool, CpuIsa isa = detected_isa());

// One layer's KV cache (the layouts above).
struct KvCacheView {
  std::uint16_t* k = nullptr;
  std::uint16_t* v = nullptr;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t block_size = 0;
};

// Writes one KV head's key (or value) [head_dim] f32, rounded to bf16, into
// cache slot `position` of the sequence with `block_table`.
void write_key(const KvCacheView& cache, const std::int32_t* block_table, std::int32_t position,
               std::int64_t kv_head, const float* key);
void write_value(const KvCacheView& cache, const std::int32_t* block_table, std::int32_t position,
                 std::int64_t kv_head, const float* value);

}  // namespace pagoda::cpu
