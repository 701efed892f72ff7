// Runs the `pagoda` binary (or any command) as a user would from a shell and
// captures its exit code, stdout and stderr. Test thread only.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/test_temp_dir.h"

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `binary args` through /bin/sh; stderr goes through a file in this process's temp dir.
inline CliRun run_cli(const std::string& binary, const std::string& args) {
  const std::string err_path = pagoda_test_temp_dir() + "/cli_stderr.txt";
  const std::string cmd = binary + " " + args + " 2>" + err_path;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_path);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}
