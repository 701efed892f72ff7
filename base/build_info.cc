#include "base/build_info.h"

#include "base/build_info_commit.h"

namespace pagoda {

const BuildInfo& build_info() {
  static const BuildInfo info{
      PAGODA_VERSION_STRING,       kGitCommit,       PAGODA_BUILD_TYPE, PAGODA_CUDA_COMPILED != 0,
      PAGODA_SERVER_COMPILED != 0, PAGODA_SANITIZER,
  };
  return info;
}

std::string describe_build() {
  const BuildInfo& b = build_info();
  std::string out = "pagoda " + std::string(b.version) + "\n";
  out += "commit: " + std::string(b.git_commit) + "\n";
  out += "build: " + std::string(b.build_type);
  if (!b.sanitizer.empty()) out += " (sanitizer: " + std::string(b.sanitizer) + ")";
  out += "\n";
  out += "backends: cpu: compiled, cuda: ";
  out += b.cuda_compiled ? "compiled" : "not compiled";
  out += "\n";
  out += "server: ";
  out += b.server_compiled ? "compiled (grpc, http)" : "not compiled";
  out += "\n";
  return out;
}

}  // namespace pagoda
