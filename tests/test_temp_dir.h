// A temporary directory private to this test process. ctest runs each test in
// its own process, several at once: fixed names under the shared temp dir
// would race, so every file a test writes goes under this one.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

inline std::string pagoda_test_temp_dir() {
  static const std::string dir = [] {
    std::filesystem::path p =
        std::filesystem::path(::testing::TempDir()) / ("pagoda-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(p);
    return p.string();
  }();
  return dir;
}
