// Launching Pagoda's kernels in a LaunchOrder, and the device side of
// programmatic dependent launch. Included by kernel .cu files only.
//
// Invariant: every kernel launched through launch_kernel calls
// await_previous_grid() in every thread before any memory access but
// prefetches of weights (which nothing writes during a step). The wait
// returns once the previous kernel on the stream has finished and its writes
// are visible; it returns at once for a serial launch. Because each kernel
// waits before it can finish, a kernel's completion still implies that of
// everything before it on the stream, so the next launch, programmatic or
// not, sees all earlier writes.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/launch_order.h"

namespace pagoda::cuda {

// Waits for the previous grid (programmatic launch), then lets the next one
// be scheduled: its blocks may occupy free multiprocessors while this grid
// runs, and they wait in their own await_previous_grid().
__device__ __forceinline__ void await_previous_grid() {
#if defined(PAGODA_SIMT)
  simt::await_previous_grid();
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Asks L2 for the 16 bytes at `p` (a hint: no data, no fault).
__device__ __forceinline__ void prefetch_l2(const void* p) {
#if defined(PAGODA_SIMT)
  (void)p;
#else
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
#endif
}

// kernel<<<grid, block, smem_bytes, stream>>>(args...) in `order`; returns
// the launch error, cleared (as every launch_* function did with
// cudaGetLastError), so a later check does not see it again. Built for the
// SIMT emulator (PAGODA_SIMT), the emulated runtime runs it.
template <typename... Params, typename... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem_bytes,
                          cudaStream_t stream, LaunchOrder order, Args... args) {
#if defined(PAGODA_SIMT)
  return simt::launch(reinterpret_cast<const void*>(kernel), grid, block, smem_bytes, stream,
                      order == LaunchOrder::kProgrammatic, [=] { kernel(args...); });
#else
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem_bytes;
  config.stream = stream;
  cudaLaunchAttribute attribute[1] = {};
  attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attribute;
  config.numAttrs = order == LaunchOrder::kProgrammatic ? 1 : 0;
  const cudaError_t err = cudaLaunchKernelEx(&config, kernel, args...);
  if (err != cudaSuccess) cudaGetLastError();
  return err;
#endif
}

}  // namespace pagoda::cuda
