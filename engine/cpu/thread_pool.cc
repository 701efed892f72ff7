#include "engine/cpu/thread_pool.h"

#include <chrono>

#include "base/thread_name.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PAGODA_CPU_RELAX() _mm_pause()
#else
#define PAGODA_CPU_RELAX() ((void)0)
#endif

namespace pagoda::cpu {

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < num_threads; ++i)
    workers_.emplace_back([this] {
      set_current_thread_name("pagoda-pool");
      worker_loop();
    });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_)
    t.join();
}

void ThreadPool::run_tasks() {
  while (true) {
    std::int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= num_tasks_) return;
    (*fn_)(task);
  }
}

void ThreadPool::worker_loop() {
  std::uint64_t seen = 0;
  while (true) {
    // Spin briefly before sleeping: a decode step runs hundreds of short
    // parallel loops, and a condition-variable wake-up costs tens of µs each.
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
    while (published_generation_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < spin_until) {
      PAGODA_CPU_RELAX();
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_tasks();
    if (active_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(std::int64_t num_tasks, const std::function<void(std::int64_t)>& fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (std::int64_t t = 0; t < num_tasks; ++t)
      fn(t);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    num_tasks_ = num_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    active_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    ++generation_;
    published_generation_.store(generation_, std::memory_order_release);
  }
  wake_.notify_all();
  run_tasks();
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  while (active_workers_.load(std::memory_order_acquire) != 0 &&
         std::chrono::steady_clock::now() < spin_until) {
    PAGODA_CPU_RELAX();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return active_workers_.load(std::memory_order_acquire) == 0; });
  fn_ = nullptr;
}

}  // namespace pagoda::cpu
