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
static_assert(kTile <= kThreads, "one thread looks up each position's row");

// Element offsets of the K/V rows of context positions [first, first + len)
// into rows[0..len); 32-bit index arithmetic (contexts are int32 positions).
__device__ __forceinline__ void lookup_rows(const PagedAttentionParams& p, const std::int32_t* table, int kvh,
                                            std::int64_t first, int len, std::int64_t* rows) {
  const int tid = static_cast<int>(threadIdx.x);
  if (tid >= len) return;
  const int block_size = static_cast<int>(p.block_size);
  const int pos = static_cast<int>(first) + tid;
  const std::int64_t block = table[pos / block_size];
  rows[tid] = ((block * p.num_kv_heads + kvh) * block_size + pos % block_size) * p.head_dim;
}

// One tile's online-softmax step, one warp per query head: scores[g][0..len)
// (row stride kStride) become exp(score - new running max), and the running
// max m_s[g], sum l_s[g] and this tile's rescale factor alpha_s[g] (for the
// sums accumulated over earlier tiles) are updated. Shared by both split
// kernels; the arguments are their shared-memory arrays (any indexable type).
template <int kStride, typename Scores, typename Stats>
__device__ __forceinline__ void online_softmax_tile(Scores& scores, Stats& m_s, Stats& l_s, Stats& alpha_s,
                                                    int group, int len, int warp, int lane) {
  for (int g = warp; g < group; g += kWarps) {
    float mx = -FLT_MAX;
    for (int j = lane; j < len; j += kWarpSize)
      mx = fmaxf(mx, scores[g * kStride + j]);
    mx = warp_max(mx);
    const float m_old = m_s[g];
    const float m_new = fmaxf(m_old, mx);
    float sum = 0.0f;
    for (int j = lane; j < len; j += kWarpSize) {
      const float e = __expf(scores[g * kStride + j] - m_new);
      scores[g * kStride + j] = e;
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
    lookup_rows(p, table, static_cast<int>(kvh), tile, len, rows);
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
    online_softmax_tile<kTile>(scores, m_s, l_s, alpha_s, group, len, warp, lane);
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

// The same computation for head_dim 64, 128 or 256 and groups of up to
// kGroup (2, 4 or 8) query heads, with 16-byte loads: head_dim / 8 lanes share
// one context position, so a warp covers kPosPerWarp positions and the block
// kPosPerPass per pass. A tile is kVecPasses passes, and each lane issues all
// its K loads of a tile before the first use and its V loads before the
// softmax barriers, so a block keeps kVecPasses 16-byte loads per thread in
// flight (one per pass waited on its load before). The next tile's cache rows
// are looked up while this tile's loads are in flight (two row buffers). In
// the P·V pass each lane accumulates its 8 dimensions of every head over the
// positions it loaded; warps are summed once at the end.
constexpr int kVecMaxGroup = 8;
constexpr int kVecPasses = 8;

template <int kHeadDim>
struct VecShape {
  static constexpr int kLanesPerPos = kHeadDim / 8;
  static constexpr int kPosPerWarp = kWarpSize / kLanesPerPos;
  static constexpr int kPosPerPass = kWarps * kPosPerWarp;
  static constexpr int kTile = kPosPerPass * kVecPasses;  // 256, 128 or 64 positions
  static_assert(kTile <= kThreads, "one thread looks up each position's row");
};

template <int kHeadDim, int kGroup>
__global__ void __launch_bounds__(kThreads, 2) paged_attention_split_vec_kernel(PagedAttentionParams p) {
  await_previous_grid();
  using V = VecShape<kHeadDim>;
  constexpr int kLanesPerPos = V::kLanesPerPos;
  constexpr int kVecTile = V::kTile;
  __shared__ float q_s[kGroup * kHeadDim];
  __shared__ float o_s[kGroup * kHeadDim];
  __shared__ float scores[kGroup * kVecTile];
  __shared__ float m_s[kGroup], l_s[kGroup], alpha_s[kGroup];
  __shared__ std::int64_t rows[2][kVecTile];  // this tile's and the next one's

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int sub = lane / kLanesPerPos;              // which of the warp's positions
  const int sl = lane % kLanesPerPos;               // which 8 dimensions
  const int first_j = warp * V::kPosPerWarp + sub;  // this lane group's position in pass 0
  const std::int64_t item = blockIdx.x;
  const std::int64_t t = p.token_rows != nullptr ? p.token_rows[item] : item;
  const int kvh = static_cast<int>(blockIdx.y);
  const std::int64_t split = blockIdx.z;
  const int group = static_cast<int>(p.num_heads / p.num_kv_heads);
  const std::int64_t ctx = static_cast<std::int64_t>(p.positions[t]) + 1;
  const std::int64_t split_size = p.split_size_on_device != nullptr ? *p.split_size_on_device : p.split_size;
  const std::int64_t begin = split * split_size;
  const std::int64_t end = min(begin + split_size, ctx);
  const std::int64_t first_head = static_cast<std::int64_t>(kvh) * group;
  if (begin >= end) return;  // the combine pass never reads splits past the context

  const std::int32_t* table = p.block_tables + p.block_table_offsets[t];
  lookup_rows(p, table, kvh, begin, static_cast<int>(min(static_cast<std::int64_t>(kVecTile), end - begin)),
              rows[0]);
  const float* q = p.q + (t * p.num_heads + first_head) * kHeadDim;
  for (int i = tid; i < group * kHeadDim; i += kThreads) {
    q_s[i] = q[i] * p.scale;
    o_s[i] = 0.0f;
  }
  if (tid < group) {
    m_s[tid] = -FLT_MAX;
    l_s[tid] = 0.0f;
  }
  float acc[kGroup][8];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
#pragma unroll
    for (int e = 0; e < 8; ++e)
      acc[g][e] = 0.0f;
  }
  __syncthreads();

  int buf = 0;
  for (std::int64_t tile = begin; tile < end; tile += kVecTile, buf ^= 1) {
    const int len = static_cast<int>(min(static_cast<std::int64_t>(kVecTile), end - tile));
    const std::int64_t* tile_rows = rows[buf];
    // This lane's 8 dimensions of `cache` at its position of every pass, all
    // loads issued before any is used (zeros past the tile).
    auto load_passes = [&](const std::uint16_t* cache, uint4(&raw)[kVecPasses]) {
#pragma unroll
      for (int pass = 0; pass < kVecPasses; ++pass) {
        const int j = first_j + pass * V::kPosPerPass;
        raw[pass] =
            j < len ? *reinterpret_cast<const uint4*>(cache + tile_rows[j] + sl * 8) : make_uint4(0, 0, 0, 0);
      }
    };
    uint4 k_raw[kVecPasses];
    load_passes(p.k_cache, k_raw);
    // The next tile's rows: their buffer's last reads (the previous tile's
    // loads) are behind that tile's barriers, and the barriers below publish them.
    if (tile + kVecTile < end) {
      lookup_rows(p, table, kvh, tile + kVecTile,
                  static_cast<int>(min(static_cast<std::int64_t>(kVecTile), end - tile - kVecTile)),
                  rows[buf ^ 1]);
    }
    // Scores; every lane runs every pass (the shuffles need the whole warp).
#pragma unroll
    for (int pass = 0; pass < kVecPasses; ++pass) {
      const int j = first_j + pass * V::kPosPerPass;
      float kf[8];
      bf16x8_to_f32(k_raw[pass], kf);
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        if (g >= group) break;
        float dot = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e)
          dot += q_s[g * kHeadDim + sl * 8 + e] * kf[e];
#pragma unroll
        for (int offset = kLanesPerPos / 2; offset > 0; offset /= 2)
          dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        if (sl == 0 && j < len) scores[g * kVecTile + j] = dot;
      }
    }
    // V rows in flight across the softmax.
    uint4 v_raw[kVecPasses];
    load_passes(p.v_cache, v_raw);
    __syncthreads();
    online_softmax_tile<kVecTile>(scores, m_s, l_s, alpha_s, group, len, warp, lane);
    __syncthreads();
    // P·V over this lane group's positions, after rescaling the running sums.
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      if (g >= group) break;
      const float alpha = alpha_s[g];
#pragma unroll
      for (int e = 0; e < 8; ++e)
        acc[g][e] *= alpha;
    }
#pragma unroll
    for (int pass = 0; pass < kVecPasses; ++pass) {
      const int j = first_j + pass * V::kPosPerPass;
      if (j >= len) break;  // passes cover positions in increasing order
      float vf[8];
      bf16x8_to_f32(v_raw[pass], vf);
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        if (g >= group) break;
        const float pj = scores[g * kVecTile + j];
#pragma unroll
        for (int e = 0; e < 8; ++e)
          acc[g][e] += pj * vf[e];
      }
    }
    __syncthreads();  // the next tile's scores pass overwrites positions other lanes may still read
  }

  // Sum the lane groups of each warp (shuffles), then the warps into o_s one
  // at a time, in warp order: no float atomics, so the result is the same on
  // every run (shared-memory atomicAdd made it differ in the last bf16 bit).
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
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
      for (int g = 0; g < kGroup; ++g) {
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

// The vec kernel for a head_dim, with the smallest group bound that holds `group`.
template <int kHeadDim>
void (*vec_kernel_for_group(std::int64_t group))(PagedAttentionParams) {
  if (group <= 2) return paged_attention_split_vec_kernel<kHeadDim, 2>;
  if (group <= 4) return paged_attention_split_vec_kernel<kHeadDim, 4>;
  return paged_attention_split_vec_kernel<kHeadDim, kVecMaxGroup>;
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
  if (p.num_splits < 1 || p.block_size < 1 || p.block_size > (1 << 30)) return cudaErrorInvalidValue;
  if (p.split_size_on_device == nullptr && p.split_size < 1) return cudaErrorInvalidValue;
  if (p.num_splits > 65535 || p.num_kv_heads > 65535 || p.num_heads > 65535) return cudaErrorInvalidValue;
  const dim3 split_grid(static_cast<unsigned>(p.num_tokens), static_cast<unsigned>(p.num_kv_heads),
                        static_cast<unsigned>(p.num_splits));
  // 16-byte loads where the shape and the cache's alignment allow; the general kernel otherwise.
  const bool aligned = reinterpret_cast<std::uintptr_t>(p.k_cache) % 16 == 0 &&
                       reinterpret_cast<std::uintptr_t>(p.v_cache) % 16 == 0;
  void (*split)(PagedAttentionParams) = paged_attention_split_kernel;
  if (aligned && group <= kVecMaxGroup) {
    if (p.head_dim == 64) split = vec_kernel_for_group<64>(group);
    if (p.head_dim == 128) split = vec_kernel_for_group<128>(group);
    if (p.head_dim == 256) split = vec_kernel_for_group<256>(group);
  }
  const cudaError_t err = launch_kernel(split, split_grid, kThreads, 0, stream, order, p);
  if (err != cudaSuccess) return err;
  const dim3 combine_grid(static_cast<unsigned>(p.num_tokens), static_cast<unsigned>(p.num_heads));
  return launch_kernel(paged_attention_combine_kernel, combine_grid, static_cast<unsigned>(p.head_dim), 0,
                       stream, order, p);
}

}  // namespace pagoda::cuda
