// `pagoda info`: what this binary can run on — build facts and visible devices.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <thread>

#include "base/build_info.h"
#include "tools/command.h"
#ifdef PAGODA_HAVE_CUDA
#include "cuda/cuda_device.h"
#endif

namespace pagoda::tools {

void add_info_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Print build facts and the devices this process can use");
  cmd->callback([] {
    std::fputs(describe_build().c_str(), stdout);
    std::printf("cpu threads: %u\n", std::thread::hardware_concurrency());
#ifdef PAGODA_HAVE_CUDA
    std::printf("cuda runtime: %s\n", cuda::runtime_version().c_str());
    auto devices = cuda::list_devices();
    if (devices.empty()) std::printf("cuda devices: none (%s)\n", cuda::no_device_reason().c_str());
    for (const auto& d : devices) {
      std::printf("cuda device %d: %s, sm_%d%d, %zu MiB, %d SMs\n", d.index, d.name.c_str(), d.compute_major,
                  d.compute_minor, d.total_memory_bytes >> 20, d.num_sms);
    }
#endif
  });
}

}  // namespace pagoda::tools
