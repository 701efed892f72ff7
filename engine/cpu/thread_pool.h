// ThreadPool: a fixed set of worker threads running one parallel loop at a
// time. Owned and driven by one thread (the step thread, or one
// tensor-parallel rank); workers only run tasks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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

  // Runs fn(task) once for each task in [0, num_tasks), spread over all
  // threads; returns when every task is done. Thread i first runs the i-th
  // contiguous share of the tasks in ascending order (consecutive tasks are
  // usually neighbours in memory, so each thread reads one long stream); a
  // thread that finishes its share takes tasks from the end of the share with
  // the most left. Which thread runs a task depends on timing, so fn must
  // write only to places determined by `task`.
  void parallel_for(std::int64_t num_tasks, const std::function<void(std::int64_t)>& fn);

 private:
  // Tasks [begin, end) of one thread's share, packed in one word so the owner
  // (from the front) and thieves (from the back) claim tasks with one CAS.
  struct alignas(64) Share {
    std::atomic<std::uint64_t> bounds{0};  // begin in the low 32 bits, end in the high
  };
  void worker_loop(int index);
  void run_tasks(int index);
  bool claim_front(Share& share, std::int64_t& task);
  bool steal(std::int64_t& task);

  std::vector<std::thread> workers_;
  std::unique_ptr<Share[]> shares_;  // one per thread; index 0 is the calling thread
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::int64_t)>* fn_ = nullptr;  // guarded by mutex_ for publication
  std::atomic<int> active_workers_{0};
  std::atomic<bool> caller_sleeping_{false};  // written by the caller under mutex_
  static constexpr int kSpinMicros = 100;
  std::uint64_t generation_ = 0;                        // guarded by mutex_
  std::atomic<std::uint64_t> published_generation_{0};  // generation_, readable without the lock
  bool stop_ = false;                                   // guarded by mutex_
};

}  // namespace pagoda::cpu
