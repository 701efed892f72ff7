// The emulated CUDA runtime's launch entry (the rest of it is the CUDA runtime
// API itself, defined in simt_runtime.cc for binaries linked without cudart).
// launch_kernel (cuda/kernel_launch.cuh) calls it when built for the emulator.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>

namespace pagoda::simt {

// Checks the configuration as a device would (threads per block, grid limits,
// dynamic shared memory against the kernel's cudaFuncSetAttribute opt-in),
// then runs the grid in stream order: at once, or when a graph captured on
// `stream` is launched. An emulator failure inside the grid is reported by the
// next synchronising call and cudaGetLastError, as a device fault would be.
// A `programmatic` launch (LaunchOrder::kProgrammatic) first runs its first
// and last blocks' threads up to their await_previous_grid() with the
// device's memory inaccessible (the first 8 launches of each kernel): that
// part may overlap the kernel before it on a GPU, so a thread touching device
// memory there aborts the process, naming the rule.
cudaError_t launch(const void* kernel, dim3 grid, dim3 block, std::size_t dynamic_smem_bytes,
                   cudaStream_t stream, bool programmatic, std::function<void()> body);

// Runs `op` in `stream`'s order: at once, or recorded into the graph the
// stream is capturing.
cudaError_t enqueue(cudaStream_t stream, std::function<void()> op);

// Fault injection for tests: after `launches_before` more launches (kernels
// and graphs) on `device`, the next one there is refused with
// cudaErrorLaunchOutOfResources, as a driver refuses a launch; once.
void inject_launch_failure(int device, int launches_before);

// For tests of code that polls: while held, cudaStreamQuery reports `stream`
// busy (cudaErrorNotReady), as a GPU does while a kernel in it waits;
// hold_device_streams does so for every stream created on `device`.
void hold_stream(cudaStream_t stream, bool held);
void hold_device_streams(int device, bool held);

// While set, `device` behaves as after a sticky fault (a kernel's illegal
// address: on a GPU the context is lost until the process exits): launches
// there and synchronising calls on it (cudaStreamSynchronize, cudaStreamQuery,
// cudaDeviceSynchronize) return cudaErrorIllegalAddress.
void inject_device_fault(int device, bool faulted);

}  // namespace pagoda::simt
