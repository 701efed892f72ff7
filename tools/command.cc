#include "tools/command.h"

#include <cstdio>

#include <CLI/CLI.hpp>

namespace pagoda::tools {

void fail_command(std::string_view command, std::string_view message, int code) {
  std::fprintf(stderr, "pagoda %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
  throw CLI::RuntimeError(code);
}

}  // namespace pagoda::tools
