#include "engine/cpu/thread_pool.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "base/thread_name.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PAGODA_CPU_RELAX() _mm_pause()
#else
#define PAGODA_CPU_RELAX() ((void)0)
#endif

namespace pagoda::cpu {
namespace {

constexpr std::uint64_t pack(std::uint64_t begin, std::uint64_t end) {
  return begin | (end << 32);
}
constexpr std::int64_t begin_of(std::uint64_t bounds) {
  return static_cast<std::int64_t>(bounds & 0xffffffffu);
}
constexpr std::int64_t end_of(std::uint64_t bounds) {
  return static_cast<std::int64_t>(bounds >> 32);
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  shares_ = std::make_unique<Share[]>(static_cast<std::size_t>(num_threads));
  for (int i = 1; i < num_threads; ++i)
    workers_.emplace_back([this, i] {
      set_current_thread_name("pagoda-pool");
      worker_loop(i);
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

bool ThreadPool::claim_front(Share& share, std::int64_t& task) {
  std::uint64_t bounds = share.bounds.load(std::memory_order_relaxed);
  while (begin_of(bounds) < end_of(bounds)) {
    if (share.bounds.compare_exchange_weak(bounds, bounds + 1, std::memory_order_relaxed)) {
      task = begin_of(bounds);
      return true;
    }
  }
  return false;
}

bool ThreadPool::steal(std::int64_t& task) {
  const int n = num_threads();
  while (true) {
    // The share with the most tasks left; none left anywhere ends the loop.
    int victim = -1;
    std::int64_t most = 0;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t b = shares_[static_cast<std::size_t>(i)].bounds.load(std::memory_order_relaxed);
      if (end_of(b) - begin_of(b) > most) {
        most = end_of(b) - begin_of(b);
        victim = i;
      }
    }
    if (victim < 0) return false;
    Share& share = shares_[static_cast<std::size_t>(victim)];
    std::uint64_t bounds = share.bounds.load(std::memory_order_relaxed);
    while (begin_of(bounds) < end_of(bounds)) {
      const std::uint64_t taken =
          pack(static_cast<std::uint64_t>(begin_of(bounds)), static_cast<std::uint64_t>(end_of(bounds) - 1));
      if (share.bounds.compare_exchange_weak(bounds, taken, std::memory_order_relaxed)) {
        task = end_of(bounds) - 1;
        return true;
      }
    }
  }
}

void ThreadPool::run_tasks(int index) {
  std::int64_t task = 0;
  while (claim_front(shares_[static_cast<std::size_t>(index)], task))
    (*fn_)(task);
  while (steal(task))
    (*fn_)(task);
}

void ThreadPool::worker_loop(int index) {
  std::uint64_t seen = 0;
  while (true) {
    // Spin briefly before sleeping: a decode step runs hundreds of short
    // parallel loops, and a condition-variable wake-up costs tens of µs each.
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
    std::uint64_t generation = published_generation_.load(std::memory_order_acquire);
    while (generation == seen && std::chrono::steady_clock::now() < spin_until) {
      PAGODA_CPU_RELAX();
      generation = published_generation_.load(std::memory_order_acquire);
    }
    if (generation == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      generation = generation_;
    }
    seen = generation;
    run_tasks(index);
    // The last worker out wakes the caller only if it went to sleep: a
    // spinning caller sees the count reach zero, and locking here would make
    // it wait for this thread's unlock (seq_cst pairs with the caller's store
    // of caller_sleeping_ and its load of the count).
    if (active_workers_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
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
  if (num_tasks > std::numeric_limits<std::int32_t>::max()) {
    // Task indices are packed in 32 bits; no caller comes near this.
    std::fprintf(stderr, "ThreadPool::parallel_for: %lld tasks is more than 2^31\n",
                 static_cast<long long>(num_tasks));
    std::abort();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    const auto n = static_cast<std::uint64_t>(num_tasks);
    const auto threads = static_cast<std::uint64_t>(num_threads());
    for (std::uint64_t i = 0; i < threads; ++i)
      shares_[i].bounds.store(pack(n * i / threads, n * (i + 1) / threads), std::memory_order_relaxed);
    active_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    ++generation_;
    published_generation_.store(generation_, std::memory_order_release);
  }
  wake_.notify_all();
  run_tasks(0);
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  while (active_workers_.load(std::memory_order_acquire) != 0 &&
         std::chrono::steady_clock::now() < spin_until) {
    PAGODA_CPU_RELAX();
  }
  if (active_workers_.load() == 0) return;
  std::unique_lock<std::mutex> lock(mutex_);
  caller_sleeping_.store(true);
  done_.wait(lock, [&] { return active_workers_.load() == 0; });
  caller_sleeping_.store(false);
}

}  // namespace pagoda::cpu
