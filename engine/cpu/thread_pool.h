// ThreadPool: a fixed set of worker threads running one parallel loop at a
// time. Work is split statically (task i always goes to the same place in the
// output), so results never depend on timing. Owned and driven by one thread
// (the step thread, or one tensor-parallel rank); workers only run tasks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pagoda::cpu {

class ThreadPool {
 public:
  // num_threads includes the calling thread; 0 means the number of CPUs.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(task) for task in [0, num_tasks), spread over all threads; returns
  // when every task is done. Tasks are handed out dynamically, so fn must
  // write only to places determined by `task`.
  void parallel_for(std::int64_t num_tasks, const std::function<void(std::int64_t)>& fn);

 private:
  void worker_loop();
  void run_tasks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::int64_t)>* fn_ = nullptr;  // guarded by mutex_ for publication
  std::int64_t num_tasks_ = 0;
  std::atomic<std::int64_t> next_task_{0};
  std::atomic<int> active_workers_{0};
  static constexpr int kSpinMicros = 100;
  std::uint64_t generation_ = 0;                        // guarded by mutex_
  std::atomic<std::uint64_t> published_generation_{0};  // generation_, readable without the lock
  bool stop_ = false;                                   // guarded by mutex_
};

}  // namespace pagoda::cpu
