#include "tests/cuda/simt/simt.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

// The static __shared__ variables of the kernels compiled for the emulator,
// gathered by simt_shared.ld.
extern "C" {
extern unsigned char __start_pagoda_simt_shared[] __attribute__((weak));
extern unsigned char __stop_pagoda_simt_shared[] __attribute__((weak));
}

namespace pagoda::simt {

ThreadContext* g_thread_context = nullptr;

namespace {

namespace ctx = boost::context;

constexpr std::size_t kStackBytes = 128 * 1024;
constexpr unsigned char kPoison = 0xFF;

// Thrown inside a fiber by fail(); caught at the fiber's entry.
struct Failure {
  std::string what;
};

// Thrown by await_previous_grid() in a run until the wait: the thread is done.
struct ReachedWait {};

// Fiber stacks with a guard page below each, kept for the next block.
class StackPool {
 public:
  ~StackPool() {
    for (void* base : free_)
      munmap(base, kStackBytes + page_bytes());
  }
  ctx::stack_context allocate() {
    void* base = nullptr;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base = mmap(nullptr, kStackBytes + page_bytes(), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base == MAP_FAILED) {
        std::fprintf(stderr, "simt: cannot map a fiber stack\n");
        std::abort();
      }
      mprotect(base, page_bytes(), PROT_NONE);  // overflow faults instead of corrupting
    }
    ctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = static_cast<unsigned char*>(base) + page_bytes() + kStackBytes;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) {
    free_.push_back(static_cast<unsigned char*>(sc.sp) - kStackBytes - page_bytes());
  }

 private:
  static std::size_t page_bytes() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }
  std::vector<void*> free_;
};

// The StackAllocator boost::context copies into each fiber: a handle on the pool.
struct PooledStack {
  StackPool* pool;
  ctx::stack_context allocate() { return pool->allocate(); }
  void deallocate(ctx::stack_context& sc) noexcept { pool->deallocate(sc); }
};

enum class State { kReady, kAtSync, kAtWarp, kDone };

struct Thread {
  ThreadContext coords;
  int warp = 0;
  State state = State::kReady;
  unsigned warp_mask = 0;
  const char* warp_op = nullptr;  // the collective it waits in (warp_exchange's op)
  int parity = 0;
  ctx::fiber fiber;  // suspended thread (empty while it runs or once done)
  ctx::fiber back;   // the scheduler, while the thread runs
};

struct Warp {
  LaneWords slots[2][kWarpSize];
};

// One block in flight (blocks run one at a time).
struct Block {
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  std::string error;
};

std::mutex g_launch_mutex;  // one launch at a time: the state below is the launch's
Block* g_block = nullptr;
Thread* g_thread = nullptr;
unsigned char* g_dynamic_smem = nullptr;
bool g_until_wait = false;
StackPool g_stacks;

void yield_to_scheduler() {
  Thread& t = *g_thread;
  t.back = std::move(t.back).resume();
}

std::uint64_t schedule_seed() {
  const char* s = std::getenv("PAGODA_SIMT_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : 0;
}

// Releases the lanes of every warp collective whose mask's lanes all wait in
// it; then, if none, the block barrier if every live thread waits there.
// Lanes of a warp may wait in collectives of different masks at once (lanes
// that diverged, as Volta and later allow): each mask's lanes are released
// together when all of them wait with that mask. Returns false when nothing
// can move (done, or a deadlock recorded in block.error).
bool release_waiters(Block& b) {
  bool released = false;
  const int num_threads = static_cast<int>(b.threads.size());
  for (std::size_t w = 0; w < b.warps.size(); ++w) {
    const int first = static_cast<int>(w) * kWarpSize;
    const int last = std::min(first + kWarpSize, num_threads);
    const auto lane_thread = [&](int lane) -> Thread& {
      return b.threads[static_cast<std::size_t>(first + lane)];
    };
    unsigned seen = 0;  // waiting lanes whose mask was looked at
    for (int lead = 0; lead < last - first; ++lead) {
      const Thread& t = lane_thread(lead);
      if (t.state != State::kAtWarp || (seen >> lead & 1u)) continue;
      const unsigned mask = t.warp_mask;
      bool ready = true;
      for (int lane = 0; lane < kWarpSize; ++lane) {
        if (!(mask >> lane & 1u)) continue;
        if (first + lane >= last || lane_thread(lane).state == State::kDone) {
          b.error = "warp " + std::to_string(w) + ": a collective's mask names lane " + std::to_string(lane) +
                    ", which has exited or does not exist";
          return false;
        }
        const Thread& u = lane_thread(lane);
        if (u.state != State::kAtWarp || u.warp_mask != mask) {
          ready = false;
        } else {
          seen |= 1u << lane;
        }
      }
      if (!ready) continue;
      // Posts are paired by each lane's parity (warp_exchange), so the lanes
      // of one collective must have made as many collectives before it, give
      // or take an even number.
      for (int lane = 0; lane < kWarpSize; ++lane) {
        if (!(mask >> lane & 1u)) continue;
        const Thread& u = lane_thread(lane);
        if (std::strcmp(u.warp_op, t.warp_op) != 0) {
          b.error = "warp " + std::to_string(w) + ": lanes " + std::to_string(lead) + " and " +
                    std::to_string(lane) + " meet in different collectives (" + t.warp_op + ", " + u.warp_op +
                    ")";
          return false;
        }
        if (u.parity != t.parity) {
          b.error = "warp " + std::to_string(w) +
                    ": the lanes of a collective made numbers of collectives of different parity before it "
                    "(the emulator pairs their posts by that parity)";
          return false;
        }
      }
      for (int lane = 0; lane < kWarpSize; ++lane)
        if (mask >> lane & 1u) lane_thread(lane).state = State::kReady;
      released = true;
    }
  }
  if (released) return true;
  int live = 0, at_sync = 0;
  for (const Thread& t : b.threads) {
    live += t.state != State::kDone;
    at_sync += t.state == State::kAtSync;
  }
  if (live == 0) return false;
  if (at_sync == live) {
    for (Thread& t : b.threads)
      if (t.state == State::kAtSync) t.state = State::kReady;
    return true;
  }
  b.error = "deadlock: " + std::to_string(at_sync) + " of " + std::to_string(live) +
            " live threads wait at __syncthreads, the others in warp collectives some of whose lanes "
            "wait elsewhere (another mask, or the barrier)";
  return false;
}

// Runs one block to completion; returns its error (empty on success).
std::string run_block(Block& b, std::uint64_t block_linear, std::uint64_t seed,
                      const std::function<void()>& body) {
  for (Thread& t : b.threads) {
    t.fiber = ctx::fiber(std::allocator_arg, PooledStack{&g_stacks}, [&t, &b, &body](ctx::fiber&& sink) {
      t.back = std::move(sink);
      try {
        body();
      } catch (const Failure& f) {
        if (b.error.empty()) b.error = f.what;
      } catch (const ReachedWait&) {
      }
      t.state = State::kDone;
      return std::move(t.back);
    });
  }
  std::vector<std::size_t> order(b.threads.size());
  std::mt19937_64 rng(seed ^ (block_linear * 0x9E3779B97F4A7C15ull));
  for (std::uint64_t round = 0;; ++round) {
    for (std::size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    if (seed != 0) {
      std::shuffle(order.begin(), order.end(), rng);
    } else if ((round + block_linear) % 2 == 1) {
      std::reverse(order.begin(), order.end());
    }
    for (std::size_t i : order) {
      Thread& t = b.threads[i];
      if (t.state != State::kReady) continue;
      g_thread = &t;
      g_thread_context = &t.coords;
      t.fiber = std::move(t.fiber).resume();
      g_thread = nullptr;
      g_thread_context = nullptr;
      if (!b.error.empty()) break;
    }
    if (!b.error.empty() || !release_waiters(b)) break;
  }
  std::string error = b.error;
  for (Thread& t : b.threads)
    t.fiber = ctx::fiber();  // unwinds any thread left waiting by an error
  return error;
}

}  // namespace

std::string run_grid(dim3 grid, dim3 block, std::size_t dynamic_smem_bytes,
                     const std::function<void()>& kernel_body, bool until_wait) {
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  g_until_wait = until_wait;
  const std::uint64_t seed = schedule_seed();
  const std::size_t num_threads = static_cast<std::size_t>(block.x) * block.y * block.z;
  std::unique_ptr<unsigned char[]> smem(new (std::align_val_t{128}) unsigned char[dynamic_smem_bytes + 1]);
  g_dynamic_smem = smem.get();
  Block b;
  b.warps.resize((num_threads + kWarpSize - 1) / kWarpSize);
  std::string error;
  std::uint64_t block_linear = 0;
  const std::uint64_t num_blocks = static_cast<std::uint64_t>(grid.x) * grid.y * grid.z;
  for (unsigned bz = 0; bz < grid.z && error.empty(); ++bz) {
    for (unsigned by = 0; by < grid.y && error.empty(); ++by) {
      for (unsigned bx = 0; bx < grid.x && error.empty(); ++bx, ++block_linear) {
        if (until_wait && block_linear != 0 && block_linear + 1 != num_blocks) continue;
        std::memset(smem.get(), kPoison, dynamic_smem_bytes);
        if (__start_pagoda_simt_shared != nullptr)
          std::memset(__start_pagoda_simt_shared, kPoison,
                      static_cast<std::size_t>(__stop_pagoda_simt_shared - __start_pagoda_simt_shared));
        b.threads = std::vector<Thread>(num_threads);
        b.error.clear();
        for (std::size_t i = 0; i < num_threads; ++i) {
          ThreadContext& c = b.threads[i].coords;
          c.thread_idx =
              uint3{static_cast<unsigned>(i % block.x), static_cast<unsigned>(i / block.x % block.y),
                    static_cast<unsigned>(i / (static_cast<std::size_t>(block.x) * block.y))};
          c.block_idx = uint3{bx, by, bz};
          c.block_dim = block;
          c.grid_dim = grid;
          c.lane = static_cast<int>(i % kWarpSize);
          c.copies_land_at_issue = (block_linear + seed) % 2 == 1;
          b.threads[i].warp = static_cast<int>(i / kWarpSize);
        }
        g_block = &b;
        error = run_block(b, block_linear, seed, kernel_body);
        g_block = nullptr;
        if (!error.empty())
          error = "block (" + std::to_string(bx) + ", " + std::to_string(by) + ", " + std::to_string(bz) +
                  "): " + error;
      }
    }
  }
  g_dynamic_smem = nullptr;
  return error;
}

void await_previous_grid() {
  if (g_until_wait) throw ReachedWait{};
}

void sync_threads() {
  g_thread->state = State::kAtSync;
  yield_to_scheduler();
}

const LaneWords* warp_exchange(unsigned mask, const LaneWords& words, const char* op) {
  Thread& t = *g_thread;
  const int lane = t.coords.lane;
  if (!(mask >> lane & 1u))
    fail("lane " + std::to_string(lane) + " joins a warp collective whose mask leaves it out");
  t.parity ^= 1;
  Warp& w = g_block->warps[static_cast<std::size_t>(t.warp)];
  std::memcpy(w.slots[t.parity][lane], words, sizeof(LaneWords));
  t.warp_mask = mask;
  t.warp_op = op;
  t.state = State::kAtWarp;
  yield_to_scheduler();
  return w.slots[t.parity];
}

unsigned char* dynamic_shared() {
  return g_dynamic_smem;
}

void fail(const std::string& what) {
  throw Failure{what};
}

}  // namespace pagoda::simt
