// A CUDA thread-block emulator for testing Pagoda's kernels on machines
// without a GPU: each CUDA thread of a block is a fiber, scheduled on the
// launching OS thread; blocks run one after another. Used by the kernel
// translation units compiled as host C++ (simt_device.h) and by the emulated
// runtime (simt_runtime.cc). One launch runs at a time in the process.
//
// Semantics it keeps (docs/cuda.md, "Kernels without a GPU"): threads of a
// block meet only at __syncthreads (every live thread) and at warp
// collectives (__syncwarp, shuffles, ldmatrix, mma: every lane of the mask,
// none exited); between meetings the threads run one after another, in an
// order reversed every other round and every other block, so a read that
// misses a barrier sees a stale value in one order or the other. cp.async
// copies land at issue in odd blocks and at the wait in even ones. Shared
// memory (static and dynamic) is 0xFF bytes (NaN) when each block starts. A deadlock
// (threads waiting at different barriers) or a collective missing a lane
// fails the launch with a message.
#pragma once

#include <vector_types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pagoda::simt {

constexpr int kWarpSize = 32;

// A cp.async in flight: 16 bytes copied (or zeroed when !fill).
struct AsyncCopy {
  void* dst;
  const void* src;
  bool fill;
};

// The running CUDA thread: coordinates and what it has in flight (valid
// inside a kernel only).
struct ThreadContext {
  uint3 thread_idx{};
  uint3 block_idx{};
  dim3 block_dim;
  dim3 grid_dim;
  int lane = 0;
  // Where a cp.async lands: at issue (odd blocks, so a buffer refilled before
  // its readers are done is caught) or at the wait (even blocks, so a read
  // before the wait is caught); a device may do either.
  bool copies_land_at_issue = false;
  std::vector<AsyncCopy> open_copies;               // issued, not yet committed
  std::vector<std::vector<AsyncCopy>> copy_groups;  // committed, oldest first
};
extern ThreadContext* g_thread_context;

// Runs `kernel_body` as every thread of the grid; returns an empty string on
// success, else what went wrong. `dynamic_smem_bytes` of shared memory is
// what dynamic_shared() returns inside the kernel. With `until_wait`, the
// first and last blocks only, each thread ending where it calls
// await_previous_grid() (a programmatic launch's part that may overlap the
// kernel before it).
std::string run_grid(dim3 grid, dim3 block, std::size_t dynamic_smem_bytes,
                     const std::function<void()>& kernel_body, bool until_wait = false);

// The device side of programmatic dependent launch (cuda/kernel_launch.cuh):
// ends the thread in a run_grid(..., until_wait = true), else nothing.
void await_previous_grid();

// __syncthreads(): waits until every live thread of the block arrives.
void sync_threads();

// Four words a lane posts to a warp collective.
using LaneWords = std::uint64_t[4];

// Every lane of `mask` posts `words` to the collective named `op` (a string
// literal: lanes meeting in different collectives fail the launch); returns
// the 32 lanes' posts (lanes outside the mask: stale), valid until this
// lane's next collective but one.
const LaneWords* warp_exchange(unsigned mask, const LaneWords& words, const char* op);

// The launch's dynamic shared memory (extern __shared__), 128-byte aligned.
unsigned char* dynamic_shared();

// Fails the running launch with `what`: a misuse the emulator caught.
[[noreturn]] void fail(const std::string& what);

}  // namespace pagoda::simt
