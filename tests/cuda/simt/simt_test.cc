// The SIMT emulator's own semantics, on small kernels written for it: what a
// kernel test on the emulator can be trusted to catch (a read that misses a
// barrier, a deadlock, unwritten shared memory, a cp.async read before its
// wait, an out-of-bounds read) and that its shuffles, ldmatrix and mma follow
// the PTX definitions. Compiled as an emulated kernel translation unit.
#include "tests/cuda/simt/simt_device.h"
// (the emulator's built-ins first, as in every emulated kernel file)
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/bf16.h"

namespace pagoda::simt {
namespace {

// Device buffers of the emulated runtime, freed at scope exit.
template <typename T>
struct Buffer {
  explicit Buffer(std::size_t n) : count(n) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&ptr), n * sizeof(T)), cudaSuccess);
  }
  ~Buffer() { cudaFree(ptr); }
  std::vector<T> host() const {
    std::vector<T> v(count);
    EXPECT_EQ(cudaMemcpy(v.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }
  T* ptr = nullptr;
  std::size_t count;
};

// Launches in the given order and waits for the kernel.
template <typename... Params, typename... Args>
cudaError_t run_in_order(bool programmatic, void (*kernel)(Params...), dim3 grid, dim3 block,
                         std::size_t smem, Args... args) {
  const cudaError_t e = launch(reinterpret_cast<const void*>(kernel), grid, block, smem, nullptr,
                               programmatic, [=] { kernel(args...); });
  return e != cudaSuccess ? e : cudaDeviceSynchronize();
}

template <typename... Params, typename... Args>
cudaError_t run(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem, Args... args) {
  return run_in_order(false, kernel, grid, block, smem, args...);
}

// Each thread writes its id, then reads its neighbour's, with or without the
// barrier between.
template <bool kSynced>
__global__ void neighbour_kernel(int* out) {
  __shared__ int ids[64];
  const int t = static_cast<int>(threadIdx.x);
  ids[t] = t;
  if (kSynced) __syncthreads();
  out[blockIdx.x * 64 + t] = ids[(t + 1) % 64];
}

TEST(SimtTest, AReadThatMissesABarrierSeesAStaleValue) {
  Buffer<int> synced(128), racy(128);
  ASSERT_EQ(run(neighbour_kernel<true>, 2, 64, 0, synced.ptr), cudaSuccess);
  ASSERT_EQ(run(neighbour_kernel<false>, 2, 64, 0, racy.ptr), cudaSuccess);
  const std::vector<int> good = synced.host(), bad = racy.host();
  for (int i = 0; i < 128; ++i)
    EXPECT_EQ(good[static_cast<std::size_t>(i)], (i % 64 + 1) % 64);
  // Block 0 runs its threads in one order, block 1 in the other: in each,
  // some neighbour has not written yet (poison bytes: -1).
  int stale[2] = {0, 0};
  for (int i = 0; i < 128; ++i)
    stale[i / 64] += bad[static_cast<std::size_t>(i)] != good[static_cast<std::size_t>(i)];
  EXPECT_GT(stale[0], 0);
  EXPECT_GT(stale[1], 0);
}

__global__ void uninitialized_shared_kernel(float* out, bool write) {
  __shared__ float unwritten[32];
  if (write) unwritten[threadIdx.x] = 1.0f;  // never, but the compiler cannot know
  out[threadIdx.x] = unwritten[threadIdx.x];
}

TEST(SimtTest, SharedMemoryStartsAsNaN) {
  Buffer<float> out(32);
  ASSERT_EQ(run(uninitialized_shared_kernel, 1, 32, 0, out.ptr, false), cudaSuccess);
  for (float v : out.host())
    EXPECT_TRUE(std::isnan(v));
}

// Half a warp waits at __syncthreads while the other half waits for it in a
// shuffle.
__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    out[0] = __shfl_xor_sync(0xffffffffu, 1, 1);
  }
}

TEST(SimtTest, ADeadlockFailsTheLaunch) {
  Buffer<int> out(1);
  EXPECT_EQ(run(divergent_barrier_kernel, 1, 32, 0, out.ptr), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // reported once
}

__global__ void early_exit_shuffle_kernel(int* out) {
  if (threadIdx.x == 5) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

TEST(SimtTest, AShuffleMissingAnExitedLaneFails) {
  Buffer<int> out(32);
  EXPECT_EQ(run(early_exit_shuffle_kernel, 1, 32, 0, out.ptr), cudaErrorLaunchFailure);
}

__global__ void shuffles_kernel(int* out) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int base = static_cast<int>(threadIdx.x) * 4;
  out[base + 0] = __shfl_xor_sync(0xffffffffu, lane, 5);
  out[base + 1] = __shfl_up_sync(0xffffffffu, lane, 3);
  out[base + 2] = __shfl_down_sync(0xffffffffu, lane, 2, 16);
  out[base + 3] = __shfl_sync(0xffffffffu, lane * 10, 7);
}

TEST(SimtTest, ShufflesReadTheLanesCudaDefines) {
  Buffer<int> out(64 * 4);
  ASSERT_EQ(run(shuffles_kernel, 1, 64, 0, out.ptr), cudaSuccess);
  const std::vector<int> v = out.host();
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32;
    const auto at = [&](int i) { return v[static_cast<std::size_t>(t * 4 + i)]; };
    EXPECT_EQ(at(0), lane ^ 5);
    EXPECT_EQ(at(1), lane >= 3 ? lane - 3 : lane);
    EXPECT_EQ(at(2), lane % 16 + 2 < 16 ? lane + 2 : lane);
    EXPECT_EQ(at(3), 70);
  }
}

// Lanes 0-29 sum over groups of their own mask (lane % 3); lanes 30 and 31
// skip that and go on to a full-warp vote, where the others meet them later.
__global__ void skipped_collective_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  const bool in = lane < 30;
  const unsigned peers = __match_any_sync(0xffffffffu, in ? lane % 3 : 99u);
  unsigned sum = 0;
  if (in) sum = __reduce_add_sync(peers, lane * 1000u);
  out[threadIdx.x] = sum + __ballot_sync(0xffffffffu, in);
}

// A limitation that fails loudly: lanes meeting in a collective after making
// different numbers of collectives is valid CUDA, but the emulator pairs the
// lanes' posts by that count, so it fails the launch rather than hand out
// stale posts. Kernels keep every lane's count of collectives the same.
TEST(SimtTest, LanesMeetingAfterDifferentNumbersOfCollectivesFail) {
  Buffer<unsigned> out(32);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run(skipped_collective_kernel, 1, 32, 0, out.ptr), cudaErrorLaunchFailure);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("of different parity"), std::string::npos);
}

// Half the warp votes with a ballot, the other half with an any: one
// collective's mask, two instructions.
__global__ void mixed_collectives_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  out[threadIdx.x] =
      lane < 16 ? __ballot_sync(0xffffffffu, 1) : static_cast<unsigned>(__any_sync(0xffffffffu, 1));
}

TEST(SimtTest, LanesMeetingInDifferentCollectivesFail) {
  Buffer<unsigned> out(32);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run(mixed_collectives_kernel, 1, 32, 0, out.ptr), cudaErrorLaunchFailure);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("meet in different collectives"),
            std::string::npos);
}

// Votes, matches and reductions over groups of lanes: every lane sums over
// its own group (lane % 3 for lanes 0-29; lanes 30 and 31 are one group), the
// groups' collectives under different masks at once.
__global__ void uniform_groups_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  const bool in = lane < 30;
  const unsigned any_big = static_cast<unsigned>(__any_sync(0xffffffffu, lane > 28));
  const unsigned all_small = static_cast<unsigned>(__all_sync(0xffffffffu, lane < 31));
  const unsigned ballot = __ballot_sync(0xffffffffu, lane % 4 == 1);
  const unsigned peers = __match_any_sync(0xffffffffu, in ? lane % 3 : 99u);
  const unsigned sum = __reduce_add_sync(peers, in ? lane * 1000u : 7u);
  const unsigned after = __ballot_sync(0xffffffffu, in);
  unsigned* o = out + threadIdx.x * 7;
  o[0] = any_big;
  o[1] = all_small;
  o[2] = ballot;
  o[3] = peers;
  o[4] = sum;
  o[5] = after;
  o[6] = static_cast<unsigned>(__ffs(static_cast<int>(peers)) - 1 + 100 * __popc(peers));
}

TEST(SimtTest, GroupsOfDifferentMasksMeetAtOnce) {
  Buffer<unsigned> out(64 * 7);
  ASSERT_EQ(run(uniform_groups_kernel, 1, 64, 0, out.ptr), cudaSuccess);
  const std::vector<unsigned> v = out.host();
  for (unsigned t = 0; t < 64; ++t) {
    const unsigned lane = t % 32;
    const auto at = [&](int i) { return v[t * 7 + static_cast<unsigned>(i)]; };
    EXPECT_EQ(at(0), 1u);
    EXPECT_EQ(at(1), 0u);
    EXPECT_EQ(at(2), 0x22222222u);
    unsigned peers = 0, sum = 0;
    for (unsigned l = 0; l < 32; ++l) {
      const bool same = lane < 30 ? l < 30 && l % 3 == lane % 3 : l >= 30;
      if (!same) continue;
      peers |= 1u << l;
      sum += lane < 30 ? l * 1000u : 7u;
    }
    EXPECT_EQ(at(3), peers) << "lane " << lane;
    EXPECT_EQ(at(4), sum) << "lane " << lane;
    EXPECT_EQ(at(5), 0x3fffffffu);
    EXPECT_EQ(at(6), static_cast<unsigned>(std::countr_zero(peers)) + 100u * std::popcount(peers));
  }
}

// cp.async of 16 bytes, read back before and after the wait.
__global__ void cp_async_kernel(const float* src, float* before, float* after) {
  __shared__ __align__(16) float stage[4];
  cp_async_16(stage, src, true);
  cp_async_commit();
  before[blockIdx.x] = stage[0];
  cp_async_wait(0);
  after[blockIdx.x] = stage[0];
}

TEST(SimtTest, AsyncCopiesLandAtTheWaitInEvenBlocksAndAtIssueInOddOnes) {
  Buffer<float> src(4), before(2), after(2);
  const float data[4] = {1.5f, 2.5f, 3.5f, 4.5f};
  ASSERT_EQ(cudaMemcpy(src.ptr, data, sizeof data, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(run(cp_async_kernel, 2, 1, 0, src.ptr, before.ptr, after.ptr), cudaSuccess);
  EXPECT_TRUE(std::isnan(before.host()[0])) << before.host()[0];
  EXPECT_EQ(before.host()[1], 1.5f);
  EXPECT_EQ(after.host()[0], 1.5f);
  EXPECT_EQ(after.host()[1], 1.5f);
}

// A 16x16 bf16 A (row-major) and a 16x8 B (given as 8 rows of 16 k, i.e. its
// transpose) in shared memory, through ldmatrix into one mma.
__global__ void mma_kernel(const std::uint16_t* a, const std::uint16_t* bt, float* d_out) {
  __shared__ __align__(16) std::uint16_t a_s[16 * 16];
  __shared__ __align__(16) std::uint16_t b_s[8 * 16];
  const int lane = static_cast<int>(threadIdx.x);
  for (int i = lane; i < 16 * 16; i += 32)
    a_s[i] = a[i];
  for (int i = lane; i < 8 * 16; i += 32)
    b_s[i] = bt[i];
  __syncwarp();
  unsigned ra[4], rb[4];
  // A: matrices (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15).
  ldmatrix_x4(ra, a_s + (lane % 16) * 16 + (lane / 16) * 8, false);
  // B (n-major rows of k): matrices (n 0-7, k 0-7), (n 0-7, k 8-15), repeated.
  ldmatrix_x4(rb, b_s + (lane % 8) * 16 + ((lane / 8) % 2) * 8, false);
  float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  mma_m16n8k16_bf16(d, ra, rb[0], rb[1]);
  const int g = lane / 4, t = lane % 4;
  d_out[g * 8 + 2 * t] = d[0];
  d_out[g * 8 + 2 * t + 1] = d[1];
  d_out[(g + 8) * 8 + 2 * t] = d[2];
  d_out[(g + 8) * 8 + 2 * t + 1] = d[3];
}

TEST(SimtTest, LdmatrixAndMmaComputeAMatrixProduct) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<std::uint16_t> a(16 * 16), bt(8 * 16);
  for (auto& x : a)
    x = f32_to_bf16(dist(rng));
  for (auto& x : bt)
    x = f32_to_bf16(dist(rng));
  Buffer<std::uint16_t> a_d(a.size()), bt_d(bt.size());
  Buffer<float> d(16 * 8);
  ASSERT_EQ(cudaMemcpy(a_d.ptr, a.data(), a.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(bt_d.ptr, bt.data(), bt.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(run(mma_kernel, 1, 32, 0, a_d.ptr, bt_d.ptr, d.ptr), cudaSuccess);
  const std::vector<float> got = d.host();
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 8; ++c) {
      double want = 0.0;
      for (int k = 0; k < 16; ++k)
        want += static_cast<double>(bf16_to_f32(a[static_cast<std::size_t>(r * 16 + k)])) *
                bf16_to_f32(bt[static_cast<std::size_t>(c * 16 + k)]);
      EXPECT_NEAR(got[static_cast<std::size_t>(r * 8 + c)], want, 1e-4) << r << "," << c;
    }
  }
}

__global__ void read_past_end_kernel(const float* in, float* out) {
  out[0] = in[1024];
}

TEST(SimtDeathTest, AReadPastAnAllocationFaults) {
  Buffer<float> in(64), out(1);
  EXPECT_DEATH(run(read_past_end_kernel, 1, 1, 0, in.ptr, out.ptr), "");
}

// A programmatic launch's threads may run up to their wait while the kernel
// before still writes: reading device memory there is the race.
template <bool kWaitFirst>
__global__ void copy_kernel(const float* in, float* out) {
  if (kWaitFirst) await_previous_grid();
  const float v = in[threadIdx.x];
  if (!kWaitFirst) await_previous_grid();
  out[threadIdx.x] = v;
}

TEST(SimtDeathTest, AProgrammaticLaunchTouchingMemoryBeforeItsWaitAborts) {
  Buffer<float> in(32), out(32);
  ASSERT_EQ(cudaMemset(in.ptr, 0, 32 * sizeof(float)), cudaSuccess);
  EXPECT_EQ(run_in_order(true, copy_kernel<true>, 1, 32, 0, in.ptr, out.ptr), cudaSuccess);
  EXPECT_EQ(out.host()[31], 0.0f);
  EXPECT_EQ(run_in_order(false, copy_kernel<false>, 1, 32, 0, in.ptr, out.ptr), cudaSuccess);  // serial: fine
  EXPECT_DEATH(run_in_order(true, copy_kernel<false>, 1, 32, 0, in.ptr, out.ptr),
               "touched device memory before await_previous_grid");
}

__global__ void noop_kernel() {}

TEST(SimtTest, LaunchLimitsAreTheDevices) {
  EXPECT_EQ(run(noop_kernel, 1, 1025, 0), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(run(noop_kernel, 1, 32, 48 * 1024 + 16), cudaErrorInvalidValue);
  cudaGetLastError();
  ASSERT_EQ(cudaFuncSetAttribute(reinterpret_cast<const void*>(noop_kernel),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
            cudaSuccess);
  EXPECT_EQ(run(noop_kernel, 1, 32, 48 * 1024 + 16), cudaSuccess);
}

__global__ void add_one_kernel(int* x) {
  x[threadIdx.x] += 1;
}

TEST(SimtTest, GraphsReplayWhatWasCapturedAndCaptureRefusesSynchronousCalls) {
  Buffer<int> x(32);
  ASSERT_EQ(cudaMemset(x.ptr, 0, 32 * sizeof(int)), cudaSuccess);
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ASSERT_EQ(launch(reinterpret_cast<const void*>(add_one_kernel), 1, 32, 0, s, false,
                   [p = x.ptr] { add_one_kernel(p); }),
            cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(x.host()[0], 0);  // captured, not run
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(x.host()[31], 2);

  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  EXPECT_EQ(cudaMemset(x.ptr, 0, 4), cudaErrorStreamCaptureUnsupported);
  cudaGraph_t broken = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &broken), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

}  // namespace
}  // namespace pagoda::simt
