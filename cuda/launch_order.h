// How a kernel launch is ordered after the work before it on its stream.
// Programmatic launches (Hopper's programmatic dependent launch) let a kernel
// be scheduled while the previous one still runs, hiding the launch gap
// between the many small kernels of a decode step; every Pagoda kernel begins
// with await_previous_grid() (cuda/kernel_launch.cuh), so either order
// computes the same result.
#pragma once

namespace pagoda::cuda {

enum class LaunchOrder {
  kSerial,        // starts after everything before it on the stream has finished
  kProgrammatic,  // compute capability 9.0+: may start early, waits inside
};

}  // namespace pagoda::cuda
