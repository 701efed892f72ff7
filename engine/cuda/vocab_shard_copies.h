// Where each tensor-parallel shard's logits go in a row of the whole
// vocabulary. After the all-gather, rank 0 holds [rank][row][vocab_padded];
// shard r holds the tokens from r * vocab_padded on (cpu::RankShard), so each
// shard's columns are copied to that offset of a row of
// world_size * vocab_padded floats (one 2-D copy per shard). Pure host
// arithmetic; any thread.
#pragma once

#include <cstdint>
#include <vector>

namespace pagoda::cuda {

struct ShardCopy {
  std::int64_t src_offset = 0;  // floats into the gathered buffer: the shard's first row
  std::int64_t dst_column = 0;  // floats into each whole-vocabulary row: its first token
  std::int64_t width = 0;       // floats per row: the shard's tokens (its padding stays behind)
};

// The copies for `rows` rows, in rank order; shards that hold no token (a
// vocabulary smaller than the group) are left out.
std::vector<ShardCopy> vocab_shard_copies(std::int64_t vocab_size, std::int64_t vocab_padded, int world_size,
                                          std::int64_t rows);

}  // namespace pagoda::cuda
