#include "cuda/device_math.cuh"
#include "cuda/kernel_launch.cuh"
#include "cuda/sample_kernel.h"

namespace pagoda::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / kWarpSize;
// With warp adds, a warp where at most this many lanes add (passes past the
// first digit, under a narrow prefix) adds lane by lane: the few adds meet
// little contention, less than a match and two sums would cost. Not timed.
constexpr int kOwnAddsUpTo = 4;

struct Shared {
  unsigned long long count[256];
  unsigned long long mass[256];
  unsigned long long saved_count[256];
  unsigned long long saved_mass[256];
  unsigned long long u64[kWarps];
  double f64[kWarps];
  float f32[kWarps];
  std::uint32_t u32[kWarps];
  std::int32_t i32[kWarps];
};

// sample_row's block interface on one CUDA thread block of kThreads. Every
// collective starts with a barrier (the shared scratch may still be read by
// the previous one) and combines warps in a fixed order, so results do not
// depend on timing. kWarpAdds: a warp's histogram adds to one bucket are
// summed in the warp and added once (SampleParams::warp_aggregated_adds).
template <bool kWarpAdds>
struct CudaBlock {
  Shared& s;

  __device__ int tid() const { return static_cast<int>(threadIdx.x); }
  __device__ int num_threads() const { return kThreads; }
  __device__ void sync() { __syncthreads(); }
  __device__ int lane() const { return tid() % kWarpSize; }
  __device__ int warp() const { return tid() / kWarpSize; }

  // Every thread's v combined by `op`: each warp by butterfly shuffles (every
  // lane ends with the same value), then the warps' results in warp order.
  template <class T, class Op>
  __device__ T all_reduce(T v, T* slots, Op op) {
#pragma unroll
    for (int o = kWarpSize / 2; o > 0; o /= 2)
      v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane() == 0) slots[warp()] = v;
    __syncthreads();
    T t = slots[0];
    for (int w = 1; w < kWarps; ++w)
      t = op(t, slots[w]);
    return t;
  }

  __device__ std::uint64_t sum_u64(std::uint64_t v) {
    return all_reduce<unsigned long long>(v, s.u64,
                                          [](unsigned long long a, unsigned long long b) { return a + b; });
  }
  __device__ double sum_f64(double v) {
    return all_reduce(v, s.f64, [](double a, double b) { return a + b; });
  }
  __device__ float max_f32(float v) {
    return all_reduce(v, s.f32, [](float a, float b) { return fmaxf(a, b); });
  }
  __device__ std::uint32_t min_u32(std::uint32_t v) {
    return all_reduce(v, s.u32, [](std::uint32_t a, std::uint32_t b) { return min(a, b); });
  }

  __device__ SampleBest best(SampleBest b) {
#pragma unroll
    for (int o = kWarpSize / 2; o > 0; o /= 2) {
      const float ov = __shfl_xor_sync(0xffffffffu, b.v, o);
      const std::int32_t oi = __shfl_xor_sync(0xffffffffu, b.i, o);
      if (sample_better(ov, oi, b.v, b.i)) {
        b.v = ov;
        b.i = oi;
      }
    }
    __syncthreads();
    if (lane() == 0) {
      s.f32[warp()] = b.v;
      s.i32[warp()] = b.i;
    }
    __syncthreads();
    SampleBest t;
    for (int w = 0; w < kWarps; ++w) {
      if (sample_better(s.f32[w], s.i32[w], t.v, t.i)) {
        t.v = s.f32[w];
        t.i = s.i32[w];
      }
    }
    return t;
  }

  // Sum of v over the threads before this one.
  __device__ std::uint64_t exclusive_scan_u64(std::uint64_t v) {
    unsigned long long inclusive = v;
#pragma unroll
    for (int o = 1; o < kWarpSize; o *= 2) {
      const unsigned long long other = __shfl_up_sync(0xffffffffu, inclusive, o);
      if (lane() >= o) inclusive += other;
    }
    __syncthreads();
    if (lane() == kWarpSize - 1) s.u64[warp()] = inclusive;
    __syncthreads();
    unsigned long long before = 0;
    for (int w = 0; w < warp(); ++w)
      before += s.u64[w];
    return before + inclusive - v;
  }

  __device__ void hist_clear() {
    __syncthreads();
    for (int d = tid(); d < 256; d += kThreads) {
      s.count[d] = 0;
      s.mass[d] = 0;
    }
    __syncthreads();
  }
  // Every lane of the warp calls it equally often (sample_row.h), with the
  // same `weighted` (false: w is 1).
  __device__ void hist_add(bool in, int digit, std::uint64_t w, bool weighted) {
    const unsigned adding = kWarpAdds ? __ballot_sync(0xffffffffu, in) : 0u;
    if (!kWarpAdds || __popc(adding) <= kOwnAddsUpTo) {
      if (!in) return;
      atomicAdd(&s.count[digit], 1ull);
      if (w != 0) atomicAdd(&s.mass[digit], static_cast<unsigned long long>(w));
      return;
    }
    // The lanes adding to one bucket (the lanes out form a group of their
    // own, adding nothing) sum their weights, and the lowest adds them. A
    // weight is at most 2^40 (fixed_weight), so the sums of its bits from
    // 20 up and below 20 over 32 lanes are exact in 32 bits.
    const unsigned peers = __match_any_sync(0xffffffffu, in ? static_cast<unsigned>(digit) : 256u);
    const auto n = static_cast<unsigned long long>(__popc(peers));
    unsigned long long mass = n;
    if (weighted) {
      const unsigned high = __reduce_add_sync(peers, in ? static_cast<unsigned>(w >> 20) : 0u);
      const unsigned low = __reduce_add_sync(peers, in ? static_cast<unsigned>(w) & 0xfffffu : 0u);
      mass = (static_cast<unsigned long long>(high) << 20) + low;
    }
    if (in && lane() == __ffs(static_cast<int>(peers)) - 1) {
      atomicAdd(&s.count[digit], n);
      if (mass != 0) atomicAdd(&s.mass[digit], mass);
    }
  }
  __device__ void clear_word(std::uint32_t* w) {
    *w = 0;
  }
  __device__ void add_word(std::uint32_t* w, std::uint32_t v) {
    atomicAdd(w, v);
  }
  __device__ std::uint32_t or_word(std::uint32_t* w, std::uint32_t bits) {
    return atomicOr(w, bits);
  }
  __device__ std::uint64_t hist_count(int digit) const {
    return s.count[digit];
  }
  __device__ std::uint64_t hist_mass(int digit) const {
    return s.mass[digit];
  }
  __device__ void hist_save() {
    copy_hist(s.count, s.mass, s.saved_count, s.saved_mass);
  }
  __device__ void hist_restore() {
    copy_hist(s.saved_count, s.saved_mass, s.count, s.mass);
  }
  // Between barriers, so no thread still reads or writes either copy.
  __device__ void copy_hist(const unsigned long long* count, const unsigned long long* mass,
                            unsigned long long* count_to, unsigned long long* mass_to) {
    __syncthreads();
    for (int d = tid(); d < 256; d += kThreads) {
      count_to[d] = count[d];
      mass_to[d] = mass[d];
    }
    __syncthreads();
  }
};

// grid: num_rows; block: kThreads. One block per SM is the bound given to
// ptxas: a step samples at most a few hundred rows, and without it ptxas kept
// 64 registers and spilled 302 bytes per thread (now 104 registers with warp
// adds or without, no spills; sm_90).
template <bool kWarpAdds>
__global__ void __launch_bounds__(kThreads, 1) sample_kernel(SampleParams p) {
  await_previous_grid();
  __shared__ Shared shared;
  CudaBlock<kWarpAdds> block{shared};
  const SampleRowParams& sp = p.rows[blockIdx.x];
  const std::int64_t scratch = static_cast<std::int64_t>(blockIdx.x) * p.vocab_size;
  sample_row(block, sp, p.logits + sp.logits_row * p.row_stride, p.edits, p.history, p.counts + scratch,
             p.processed + scratch, p.vocab_size, p.out + blockIdx.x);
}

}  // namespace

cudaError_t launch_sample(const SampleParams& p, cudaStream_t stream, LaunchOrder order) {
  if (p.num_rows == 0) return cudaSuccess;
  if (p.vocab_size < 1 || p.vocab_size > (1LL << 23) || p.num_rows > 0x7fffffff) return cudaErrorInvalidValue;
  if (p.counts == nullptr || p.history.slot_tokens == nullptr || p.history.block_tables == nullptr ||
      p.history.block_size < 1)
    return cudaErrorInvalidValue;
  const auto rows = static_cast<unsigned>(p.num_rows);
  if (p.warp_aggregated_adds) return launch_kernel(sample_kernel<true>, rows, kThreads, 0, stream, order, p);
  return launch_kernel(sample_kernel<false>, rows, kThreads, 0, stream, order, p);
}

}  // namespace pagoda::cuda
