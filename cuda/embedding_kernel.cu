#include "cuda/device_math.cuh"
#include "cuda/embedding_kernel.h"
#include "cuda/kernel_launch.cuh"

namespace pagoda::cuda {
namespace {

// grid: num_tokens; block: 256 threads striding over hidden.
__global__ void embedding_kernel(EmbeddingParams p) {
  await_previous_grid();
  const std::int64_t t = blockIdx.x;
  if (p.slot_tokens != nullptr && threadIdx.x == 0) p.slot_tokens[p.slots[t]] = p.tokens[t];
  const std::int64_t id = static_cast<std::int64_t>(p.tokens[t]) - p.vocab_begin;
  float* out = p.out + t * p.hidden;
  const bool mine = id >= 0 && id < p.vocab_size;
  const std::uint16_t* row = p.table + (mine ? id : 0) * p.ld;
  for (std::int64_t i = threadIdx.x; i < p.hidden; i += blockDim.x)
    out[i] = mine ? bf16_bits_to_f32(row[i]) : 0.0f;
}

}  // namespace

cudaError_t launch_embedding(const EmbeddingParams& p, cudaStream_t stream, LaunchOrder order) {
  if (p.num_tokens == 0) return cudaSuccess;
  return launch_kernel(embedding_kernel, static_cast<unsigned>(p.num_tokens), 256, 0, stream, order, p);
}

}  // namespace pagoda::cuda
