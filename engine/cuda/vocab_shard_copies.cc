#include "engine/cuda/vocab_shard_copies.h"

#include <algorithm>

namespace pagoda::cuda {

std::vector<ShardCopy> vocab_shard_copies(std::int64_t vocab_size, std::int64_t vocab_padded, int world_size,
                                          std::int64_t rows) {
  std::vector<ShardCopy> copies;
  for (std::int64_t r = 0; r < world_size; ++r) {
    const std::int64_t width = std::min(vocab_padded, vocab_size - r * vocab_padded);
    if (width <= 0) break;
    copies.push_back(ShardCopy{r * rows * vocab_padded, r * vocab_padded, width});
  }
  return copies;
}

}  // namespace pagoda::cuda
