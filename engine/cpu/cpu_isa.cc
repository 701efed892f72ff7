#include "engine/cpu/cpu_isa.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace pagoda::cpu {

CpuIsa hardware_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512bf16")) {
    return CpuIsa::kAvx512Bf16;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::kAvx2;
  return CpuIsa::kScalar;
}

CpuIsa detected_isa() {
  static const CpuIsa isa = [] {
    CpuIsa hw = hardware_isa();
    const char* env = std::getenv("PAGODA_CPU_ISA");
    if (env == nullptr || *env == '\0') return hw;
    std::string want(env);
    CpuIsa asked = want == "scalar"       ? CpuIsa::kScalar
                   : want == "avx2"       ? CpuIsa::kAvx2
                   : want == "avx512bf16" ? CpuIsa::kAvx512Bf16
                                          : hw;
    if (asked != hw && (want != "scalar" && want != "avx2" && want != "avx512bf16")) {
      std::fprintf(stderr, "pagoda: ignoring PAGODA_CPU_ISA=%s (expected avx512bf16, avx2 or scalar)\n", env);
    }
    return static_cast<int>(asked) <= static_cast<int>(hw) ? asked : hw;
  }();
  return isa;
}

std::string_view isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar:
      return "scalar";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvx512Bf16:
      return "avx512bf16";
  }
  return "?";
}

}  // namespace pagoda::cpu
