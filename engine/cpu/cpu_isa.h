// CpuIsa: which vector instruction set the CPU kernels use, chosen once at run
// time from the processor's features. PAGODA_CPU_ISA=avx512bf16|avx2|scalar
// forces a lower path (for tests and comparisons). Any thread may read it.
#pragma once

#include <string_view>

namespace pagoda::cpu {

enum class CpuIsa { kScalar, kAvx2, kAvx512Bf16 };

// The best path this CPU supports, lowered by $PAGODA_CPU_ISA when set.
CpuIsa detected_isa();
// The best path this CPU supports, ignoring the environment.
CpuIsa hardware_isa();
std::string_view isa_name(CpuIsa isa);

}  // namespace pagoda::cpu
