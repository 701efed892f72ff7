// Host-side view of the CUDA devices in this process. Plain C++ header (no CUDA
// includes) so engine and tools code can ask without being compiled by nvcc.
// Thread-safe: each call queries the CUDA runtime afresh.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace pagoda::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t total_memory_bytes = 0;
  int num_sms = 0;
};

// Devices visible to this process; empty when there is no driver or no GPU
// (never an error: a machine without a GPU is a normal place to run).
std::vector<DeviceInfo> list_devices();

// Why list_devices() is empty, e.g. "no CUDA-capable device is detected";
// empty when devices are present.
std::string no_device_reason();

// Version of the CUDA runtime this binary was built against, e.g. "13.0".
std::string runtime_version();

// Whether the kernels this build runs on the current device were compiled
// for compute capability 9.0 or later, so that await_previous_grid() waits
// (cuda/kernel_launch.cuh). A build without sm_90 runs its sm_80 code on a
// Hopper GPU, where a programmatic launch would not wait: launches stay serial.
bool kernels_wait_for_programmatic_launch();

}  // namespace pagoda::cuda
