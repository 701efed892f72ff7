#include <cfloat>

#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"
#include "cuda/paged_attention_kernel.h"

namespace pagoda::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarpSize;
constexpr int kTile = 128;     // context positions scored per pass
constexpr int kMaxGroup = 16;  // query heads per KV head
constexpr int kMaxHeadDim = 256;
constexpr int kMaxPairs = 16;  // (head, dim) accumulators per thread: group * head_dim <= 4096
constexpr int kMaxKPerLane = kMaxHeadDim / kWarpSize;

__device__ __forceinline__ std::int64_t cache_row(const PagedAttentionParams& p, const std::int32_t* table,
                                                  std::int64_t kvh, std::int64_t pos) {
  const std::int64_t block = table[pos / p.block_size];
  return ((block * p.num_kv_heads + kvh) * p.block_size + pos % p.block_size) * p.head_dim;
}

// One tile's online-softmax step, one warp per query head: scores[g][0..len)
// (row stride kTile) become exp(score - new running max), and the running
// max m_s[g], sum l_s[g] and this tile's rescale factor alpha_s[g] (for the
// sums accumulated over earlier tiles) are updated. Shared by both split
// kernels; the arguments are their shared-memory arrays (any indexable type).
template <typename Scores, typename Stats>
__device__ __forceinline__ void online_softmax_tile(Scores& scores, Stats& m_s, Stats& l_s, Stats& alpha_s,
                                                    int group, int len, int warp, int lane) {
  for (int g = warp; g < group; g += kWarps) {
    float mx = -FLT_MAX;
    for (int j = lane; j < len; j += kWarpSize)
      mx = fmaxf(mx, scores[g * kTile + j]);
    mx = warp_max(mx);
    const float m_old = m_s[g];
    const float m_new = fmaxf(m_old, mx);
    float sum = 0.0f;
    for (int j = lane; j < len; j += kWarpSize) {
      const float e = __expf(scores[g * kTile + j] - m_new);
      scores[g * kTile + j] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    __syncwarp();
    if (lane == 0) {
      const float alpha = __expf(m_old - m_new);
      alpha_s[g] = alpha;
      l_s[g] = l_s[g] * alpha + sum;
      m_s[g] = m_new;
    }
  }
}

// grid: (work items, num_kv_heads, num_splits); block: kThreads.
__global__ void __launch_bounds__(kThreads) paged_attention_split_kernel(PagedAttentionParams p) {
  await_previous_grid();
  __shared__ float q_s[kMaxGroup * kMaxHeadDim];
  __shared__ float scores[kMaxGroup * kTile];
  __shared__ float m_s[kMaxGroup], l_s[kMaxGroup], alpha_s[kMaxGroup];
  __shared__ std::int64_t rows[kTile];  // element offset of each tile position's K/V row

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const std::int64_t item = blockIdx.x;
  const std::int64_t t = p.token_rows != nullptr ? p.token_rows[item] : item;
  const std::int64_t kvh = blockIdx.y;
  const std::int64_t split = blockIdx.z;
  const int hd = static_cast<int>(p.head_dim);
  const int group = static_cast<int>(p.num_heads / p.num_kv_heads);
  const std::int64_t ctx = static_cast<std::int64_t>(p.positions[t]) + 1;
  const std::int64_t split_size = p.split_size_on_device != nullptr ? *p.split_size_on_device : p.split_size;
  const std::int64_t begin = split * split_size;
  const std::int64_t end = min(begin + split_size, ctx);
  const std::int64_t first_head = kvh * group;
  if (begin >= end) return;  // the combine pass never reads splits past the context

  const std::int32_t* table = p.block_tables + p.block_table_offsets[t];
  const float* q = p.q + (t * p.num_heads + first_head) * hd;
  for (int i = tid; i < group * hd; i += kThreads)
    q_s[i] = q[i] * p.scale;
  if (tid < group) {
    m_s[tid] = -FLT_MAX;
    l_s[tid] = 0.0f;
  }
  float acc[kMaxPairs];
#pragma unroll
  for (int k = 0; k < kMaxPairs; ++k)
    acc[k] = 0.0f;
  __syncthreads();

  const int k_per_lane = hd / kWarpSize;
  for (std::int64_t tile = begin; tile < end; tile += kTile) {
    const int len = static_cast<int>(min(static_cast<std::int64_t>(kTile), end - tile));
    // Block-table lookups once per position, not once per thread and phase.
    for (int j = tid; j < len; j += kThreads)
      rows[j] = cache_row(p, table, kvh, tile + j);
    __syncthreads();
    // Scores: one warp per context position.
    for (int j = warp; j < len; j += kWarps) {
      const std::uint16_t* k = p.k_cache + rows[j];
      float kv[kMaxKPerLane];
#pragma unroll
      for (int e = 0; e < kMaxKPerLane; ++e)
        kv[e] = e < k_per_lane ? bf16_bits_to_f32(k[lane + e * kWarpSize]) : 0.0f;
      for (int g = 0; g < group; ++g) {
        float dot = 0.0f;
#pragma unroll
        for (int e = 0; e < kMaxKPerLane; ++e) {
          if (e < k_per_lane) dot += q_s[g * hd + lane + e * kWarpSize] * kv[e];
        }
        dot = warp_sum(dot);
        if (lane == 0) scores[g * kTile + j] = dot;
      }
    }
    __syncthreads();
    online_softmax_tile(scores, m_s, l_s, alpha_s, group, len, warp, lane);
    __syncthreads();
    // acc[g][d] = acc * alpha + sum_j p[g][j] * v[j][d]; consecutive threads take consecutive d.
#pragma unroll
    for (int k = 0; k < kMaxPairs; ++k) {
      const int pair = tid + k * kThreads;
      if (pair < group * hd) {
        const int g = pair / hd;
        const int d = pair % hd;
        float a = acc[k] * alpha_s[g];
        for (int j = 0; j < len; ++j) {
          const std::uint16_t* v = p.v_cache + rows[j];
          a += scores[g * kTile + j] * bf16_bits_to_f32(v[d]);
        }
        acc[k] = a;
      }
    }
    __syncthreads();  // scores and alpha are rewritten by the next tile
  }

#pragma unroll
  for (int k = 0; k < kMaxPairs; ++k) {
    const int pair = tid + k * kThreads;
    if (pair < group * hd) {
      const int g = pair / hd;
      const int d = pair % hd;
      p.partial_out[((item * p.num_heads + first_head + g) * p.num_splits + split) * hd + d] = acc[k];
    }
  }
  if (tid < group) {
    const std::int64_t idx = (item * p.num_heads + first_head + tid) * p.num_splits + split;
    p.partial_max[idx] = m_s[tid];
    p.partial_sum[idx] = l_s[tid];
  }
}

// The same computation for head_dim 64, 128 or 256 and groups of up to 8
// query heads, with 16-byte loads: head_dim / 8 lanes share one context
// position (a warp scores 32 / (head_dim / 8) positions at once), and in the
// P·V pass each lane accumulates its 8 dimensions of every head over the
// positions its lane group visits; warps are summed once at the end.
constexpr int kVecMaxGroup = 8;

template <int kHeadDim>
__global__ void __launch_bounds__(kThreads) paged_attention_split_vec_kernel(PagedAttentionParams p) {
  await_previous_grid();
  constexpr int kLanesPerPos = kHeadDim / 8;
  constexpr int kPosPerWarp = kWarpSize / kLanesPerPos;
  __shared__ float q_s[kVecMaxGroup * kHeadDim];
  __shared__ float o_s[kVecMaxGroup * kHeadDim];
  __shared__ float scores[kVecMaxGroup * kTile];
  __shared__ float m_s[kVecMaxGroup], l_s[kVecMaxGroup], alpha_s[kVecMaxGroup];
  __shared__ std::int64_t rows[kTile];

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int sub = lane / kLanesPerPos;  // which of the warp's positions
  const int sl = lane % kLanesPerPos;   // which 8 dimensions
  const std::int64_t item = blockIdx.x;
  const std::int64_t t = p.token_rows != nullptr ? p.token_rows[item] : item;
  const std::int64_t kvh = blockIdx.y;
  const std::int64_t split = blockIdx.z;
  const int group = static_cast<int>(p.num_heads / p.num_kv_heads);
  const std::int64_t ctx = static_cast<std::int64_t>(p.positions[t]) + 1;
  const std::int64_t split_size = p.split_size_on_device != nullptr ? *p.split_size_on_device : p.split_size;
  const std::int64_t begin = split * split_size;
  const std::int64_t end = min(begin + split_size, ctx);
  const std::int64_t first_head = kvh * group;
  if (begin >= end) return;  // the combine pass never reads splits past the context

  const std::int32_t* table = p.block_tables + p.block_table_offsets[t];
  const float* q = p.q + (t * p.num_heads + first_head) * kHeadDim;
  for (int i = tid; i < group * kHeadDim; i += kThreads) {
    q_s[i] = q[i] * p.scale;
    o_s[i] = 0.0f;
  }
  if (tid < group) {
    m_s[tid] = -FLT_MAX;
    l_s[tid] = 0.0f;
  }
  float acc[kVecMaxGroup][8];
#pragma unroll
  for (int g = 0; g < kVecMaxGroup; ++g) {
#pragma unroll
    for (int e = 0; e < 8; ++e)
      acc[g][e] = 0.0f;
  }
  __syncthreads();

  for (std::int64_t tile = begin; tile < end; tile += kTile) {
    const int len = static_cast<int>(min(static_cast<std::int64_t>(kTile), end - tile));
    for (int j = tid; j < len; j += kThreads)
      rows[j] = cache_row(p, table, kvh, tile + j);
    __syncthreads();
    // Scores: kPosPerWarp positions per warp step; every lane runs every
    // iteration (the shuffles need the whole warp), loads only when valid.
    for (int j0 = warp * kPosPerWarp; j0 < len; j0 += kWarps * kPosPerWarp) {
      const int j = j0 + sub;
      const bool valid = j < len;
      float kf[8];
      bf16x8_to_f32(
          valid ? *reinterpret_cast<const uint4*>(p.k_cache + rows[j] + sl * 8) : make_uint4(0, 0, 0, 0), kf);
#pragma unroll
      for (int g = 0; g < kVecMaxGroup; ++g) {
        if (g >= group) break;
        float dot = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e)
          dot += q_s[g * kHeadDim + sl * 8 + e] * kf[e];
#pragma unroll
        for (int offset = kLanesPerPos / 2; offset > 0; offset /= 2)
          dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        if (sl == 0 && valid) scores[g * kTile + j] = dot;
      }
    }
    __syncthreads();
    online_softmax_tile(scores, m_s, l_s, alpha_s, group, len, warp, lane);
    __syncthreads();
    // P·V over this lane group's positions, after rescaling the running sums.
#pragma unroll
    for (int g = 0; g < kVecMaxGroup; ++g) {
      if (g >= group) break;
      const float alpha = alpha_s[g];
#pragma unroll
      for (int e = 0; e < 8; ++e)
        acc[g][e] *= alpha;
    }
    for (int j = warp * kPosPerWarp + sub; j < len; j += kWarps * kPosPerWarp) {
      float vf[8];
      bf16x8_to_f32(*reinterpret_cast<const uint4*>(p.v_cache + rows[j] + sl * 8), vf);
#pragma unroll
      for (int g = 0; g < kVecMaxGroup; ++g) {
        if (g >= group) break;
        const float pj = scores[g * kTile + j];
#pragma unroll
        for (int e = 0; e < 8; ++e)
          acc[g][e] += pj * vf[e];
      }
    }
    __syncthreads();  // scores, alpha and rows are rewritten by the next tile
  }

  // Sum the lane groups of each warp (shuffles), then the warps into o_s one
  // at a time, in warp order: no float atomics, so the result is the same on
  // every run (shared-memory atomicAdd made it differ in the last bf16 bit).
#pragma unroll
  for (int g = 0; g < kVecMaxGroup; ++g) {
    if (g >= group) break;
#pragma unroll
    for (int e = 0; e < 8; ++e) {
#pragma unroll
      for (int offset = kLanesPerPos; offset < kWarpSize; offset *= 2)
        acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], offset);
    }
  }
  for (int w = 0; w < kWarps; ++w) {
    if (warp == w && sub == 0) {
#pragma unroll
      for (int g = 0; g < kVecMaxGroup; ++g) {
        if (g >= group) break;
#pragma unroll
        for (int e = 0; e < 8; ++e)
          o_s[g * kHeadDim + sl * 8 + e] += acc[g][e];
      }
    }
    __syncthreads();
  }
  for (int i = tid; i < group * kHeadDim; i += kThreads) {
    const int g = i / kHeadDim;
    const int d = i % kHeadDim;
    p.partial_out[((item * p.num_heads + first_head + g) * p.num_splits + split) * kHeadDim + d] = o_s[i];
  }
  if (tid < group) {
    const std::int64_t idx = (item * p.num_heads + first_head + tid) * p.num_splits + split;
    p.partial_max[idx] = m_s[tid];
    p.partial_sum[idx] = l_s[tid];
  }
}

// grid: (work items, num_heads); block: head_dim threads. Merges the splits
// that hold part of the token's context.
__global__ void paged_attention_combine_kernel(PagedAttentionParams p) {
  await_previous_grid();
  const std::int64_t item = blockIdx.x;
  const std::int64_t t = p.token_rows != nullptr ? p.token_rows[item] : item;
  const std::int64_t h = blockIdx.y;
  const int d = static_cast<int>(threadIdx.x);
  const std::int64_t ctx = static_cast<std::int64_t>(p.positions[t]) + 1;
  const std::int64_t split_size = p.split_size_on_device != nullptr ? *p.split_size_on_device : p.split_size;
  const std::int64_t used = min((ctx + split_size - 1) / split_size, p.num_splits);
  const std::int64_t base = (item * p.num_heads + h) * p.num_splits;
  float m = -FLT_MAX;
  for (std::int64_t s = 0; s < used; ++s)
    m = fmaxf(m, p.partial_max[base + s]);
  float l = 0.0f, o = 0.0f;
  for (std::int64_t s = 0; s < used; ++s) {
    const float w = __expf(p.partial_max[base + s] - m);
    l += w * p.partial_sum[base + s];
    o += w * p.partial_out[(base + s) * p.head_dim + d];
  }
  p.out[(t * p.num_heads + h) * p.head_dim + d] = f32_to_bf16_bits(o / l);
}

}  // namespace

std::int64_t paged_attention_workspace_floats(std::int64_t num_tokens, std::int64_t num_heads,
                                              std::int64_t num_splits, std::int64_t head_dim) {
  return num_tokens * num_heads * num_splits * (head_dim + 2);
}

cudaError_t launch_paged_attention(const PagedAttentionParams& p, cudaStream_t stream, LaunchOrder order) {
  if (p.num_tokens == 0) return cudaSuccess;
  if (p.head_dim <= 0 || p.head_dim % kWarpSize != 0 || p.head_dim > kMaxHeadDim)
    return cudaErrorInvalidValue;
  if (p.num_kv_heads <= 0 || p.num_heads % p.num_kv_heads != 0) return cudaErrorInvalidValue;
  const std::int64_t group = p.num_heads / p.num_kv_heads;
  if (group > kMaxGroup || group * p.head_dim > kThreads * kMaxPairs) return cudaErrorInvalidValue;
  if (p.num_splits < 1 || p.block_size < 1) return cudaErrorInvalidValue;
  if (p.split_size_on_device == nullptr && p.split_size < 1) return cudaErrorInvalidValue;
  if (p.num_splits > 65535 || p.num_kv_heads > 65535 || p.num_heads > 65535) return cudaErrorInvalidValue;
  const dim3 split_grid(static_cast<unsigned>(p.num_tokens), static_cast<unsigned>(p.num_kv_heads),
                        static_cast<unsigned>(p.num_splits));
  // 16-byte loads where the shape and the cache's alignment allow; the general kernel otherwise.
  const bool aligned = reinterpret_cast<std::uintptr_t>(p.k_cache) % 16 == 0 &&
                       reinterpret_cast<std::uintptr_t>(p.v_cache) % 16 == 0;
  void (*split)(PagedAttentionParams) = paged_attention_split_kernel;
  if (aligned && group <= kVecMaxGroup) {
    if (p.head_dim == 64) split = paged_attention_split_vec_kernel<64>;
    if (p.head_dim == 128) split = paged_attention_split_vec_kernel<128>;
    if (p.head_dim == 256) split = paged_attention_split_vec_kernel<256>;
  }
  const cudaError_t err = launch_kernel(split, split_grid, kThreads, 0, stream, order, p);
  if (err != cudaSuccess) return err;
  const dim3 combine_grid(static_cast<unsigned>(p.num_tokens), static_cast<unsigned>(p.num_heads));
  return launch_kernel(paged_attention_combine_kernel, combine_grid, static_cast<unsigned>(p.head_dim), 0,
                       stream, order, p);
}

}  // namespace pagoda::cuda
