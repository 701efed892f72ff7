// BuildInfo: what this binary is — version, git commit, compiled-in backends.
// Constant after static initialisation; any thread may read it.
#pragma once

#include <string>
#include <string_view>

namespace pagoda {

struct BuildInfo {
  std::string_view version;     // project version, e.g. "0.1.0"
  std::string_view git_commit;  // short hash, "+dirty" when the tree had changes; "unknown" outside git
  std::string_view build_type;  // CMAKE_BUILD_TYPE
  bool cuda_compiled;           // the CUDA backend is in this binary
  bool server_compiled;         // gRPC/HTTP front ends are in this binary
  std::string_view sanitizer;   // "", "address" or "thread"
};

const BuildInfo& build_info();

// One line per fact, as `pagoda --version` prints it.
std::string describe_build();

}  // namespace pagoda
