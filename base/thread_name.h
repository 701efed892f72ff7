// Names the calling thread as the kernel shows it (`top -H`, gdb,
// /proc/<pid>/task/<tid>/comm), so operators and scripts/thread_cpu.sh can tell
// the engine's threads from the front ends'. Any thread, for itself only.
#pragma once

#include <string>

namespace pagoda {

// Linux keeps the first 15 bytes; longer names are cut there.
void set_current_thread_name(const std::string& name);

}  // namespace pagoda
