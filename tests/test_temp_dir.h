// A temporary directory private to this test process. ctest runs each test in
// its own process, several at once: fixed names under the shared temp dir
// would race, so every file a test writes goes under this one. The process
// that created it removes it when it exits normally (a child forked from it
// does not), so a test run leaves nothing behind under the temp dir.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

class PagodaTestTempDir {
 public:
  PagodaTestTempDir()
      : path_(std::filesystem::path(::testing::TempDir()) / ("pagoda-test-" + std::to_string(getpid()))),
        owner_(getpid()) {
    std::filesystem::create_directories(path_);
  }
  ~PagodaTestTempDir() {
    if (getpid() != owner_) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  PagodaTestTempDir(const PagodaTestTempDir&) = delete;
  PagodaTestTempDir& operator=(const PagodaTestTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  pid_t owner_;
};

inline std::string pagoda_test_temp_dir() {
  static const PagodaTestTempDir dir;
  return dir.path().string();
}
