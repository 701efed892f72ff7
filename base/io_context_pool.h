// IoContextPool: N Boost.Asio io_contexts, each run by one thread of its own.
// A connection is placed on one context and all its handlers, timers and
// socket operations run on that context's thread. One io_context shared by
// several threads hands work between them: a thread woken for a posted
// handler interrupts the one parked in epoll_wait, and the two contend for the
// scheduler's lock — several context switches for every streamed chunk
// (docs/performance.md, 2026-11-30, eleventh session). Header only: the HTTP
// server and the bench client include it; nothing that builds without Boost
// does.
//
// Threads: construct, start() and stop() on the owner's thread; next() and
// at() from any thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_name.h"

namespace pagoda {

class IoContextPool {
 public:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  // num_contexts >= 1. Each context is told it has one thread (concurrency
  // hint 1); posting to it from other threads stays safe.
  explicit IoContextPool(int num_contexts) {
    for (int i = 0; i < num_contexts; ++i)
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
  }
  // Destroys the contexts first to last, with the handlers still queued on
  // them: a handler on the first context (an accept) may hold a socket of a
  // later one, never the other way round.
  ~IoContextPool() {
    stop();
    for (auto& c : contexts_)
      c.reset();
  }
  IoContextPool(const IoContextPool&) = delete;
  IoContextPool& operator=(const IoContextPool&) = delete;

  int size() const { return static_cast<int>(contexts_.size()); }
  boost::asio::io_context& at(int i) { return *contexts_[static_cast<std::size_t>(i)]; }
  // The contexts in turn: where the next connection goes.
  boost::asio::io_context& next() {
    return at(static_cast<int>(next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()));
  }

  // Starts one thread per context, named `thread_name`. Each runs until
  // stop(), with or without pending work.
  void start(const std::string& thread_name) {
    for (auto& c : contexts_) {
      guards_.emplace_back(c->get_executor());
      threads_.emplace_back([ctx = c.get(), thread_name] {
        set_current_thread_name(thread_name);
        ctx->run();
      });
    }
  }

  // Stops every context (pending handlers are not run; they are destroyed
  // with the pool) and joins the threads. Idempotent.
  void stop() {
    guards_.clear();
    for (auto& c : contexts_)
      c->stop();
    for (std::thread& t : threads_)
      t.join();
    threads_.clear();
  }

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace pagoda
