#include "engine/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace pagoda::cpu {
namespace {

TEST(ThreadPoolTest, EveryTaskRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (std::int64_t n : {0, 1, 2, 3, 4, 5, 17, 1000}) {
      // Several loops on one pool: each loop's shares start afresh.
      for (int round = 0; round < 3; ++round) {
        std::vector<std::atomic<int>> runs(static_cast<std::size_t>(n));
        pool.parallel_for(n, [&](std::int64_t t) { runs[static_cast<std::size_t>(t)].fetch_add(1); });
        for (std::int64_t t = 0; t < n; ++t)
          ASSERT_EQ(runs[static_cast<std::size_t>(t)].load(), 1)
              << "task " << t << " of " << n << ", " << threads << " threads, round " << round;
      }
    }
  }
}

// The caller's share is [0, 32) and the worker's [32, 64). Task 0, the first
// the caller runs, waits until another thread has run tasks 1 to 31: only a
// worker that finished its own share and took over the rest of the caller's
// lets it go on. Without taking over it would wait out the timeout.
TEST(ThreadPoolTest, AThreadThatFinishesTakesOverTheRestOfAnotherShare) {
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> taken_over{0};
  std::atomic<bool> released{false};
  std::vector<std::atomic<int>> runs(64);
  pool.parallel_for(64, [&](std::int64_t t) {
    runs[static_cast<std::size_t>(t)].fetch_add(1);
    if (t > 0 && t < 32 && std::this_thread::get_id() != caller) taken_over.fetch_add(1);
    if (t == 0) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (taken_over.load() < 31 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      released = taken_over.load() == 31;
    }
  });
  EXPECT_TRUE(released) << "the worker ran " << taken_over.load() << " of tasks 1-31";
  for (int t = 0; t < 64; ++t)
    EXPECT_EQ(runs[static_cast<std::size_t>(t)].load(), 1) << "task " << t;
}

}  // namespace
}  // namespace pagoda::cpu
