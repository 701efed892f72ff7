#include "base/io_context_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace pagoda {
namespace {

// The thread that runs a handler posted to `ctx`.
std::thread::id thread_of(boost::asio::io_context& ctx) {
  std::promise<std::thread::id> id;
  boost::asio::post(ctx, [&id] { id.set_value(std::this_thread::get_id()); });
  return id.get_future().get();
}

TEST(IoContextPool, NextTakesTheContextsInTurn) {
  IoContextPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  std::vector<boost::asio::io_context*> seen;
  for (int i = 0; i < 7; ++i)
    seen.push_back(&pool.next());
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], &pool.at(i % 3)) << "call " << i;
}

TEST(IoContextPool, EachContextRunsOnOneThreadOfItsOwn) {
  IoContextPool pool(3);
  pool.start("pagoda-test-io");
  std::set<std::thread::id> threads;
  for (int i = 0; i < 3; ++i) {
    const std::thread::id first = thread_of(pool.at(i));
    EXPECT_NE(first, std::this_thread::get_id());
    // Every handler of one context, posted from any thread, runs on its thread.
    for (int k = 0; k < 5; ++k) {
      std::thread poster([&] { EXPECT_EQ(thread_of(pool.at(i)), first); });
      poster.join();
    }
    threads.insert(first);
  }
  EXPECT_EQ(threads.size(), 3u);
}

TEST(IoContextPool, ContextsWithoutWorkKeepRunningUntilStop) {
  IoContextPool pool(2);
  pool.start("pagoda-test-io");
  // Nothing was posted before start: the threads must still be there.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(thread_of(pool.at(1)), std::this_thread::get_id());
}

TEST(IoContextPool, StopJoinsAndHandlersLeftAreDestroyedWithThePool) {
  auto token = std::make_shared<int>(7);
  std::weak_ptr<int> watch = token;
  std::atomic<bool> ran{false};
  {
    IoContextPool pool(2);
    pool.start("pagoda-test-io");
    pool.stop();
    // Posted after stop: never runs, but the pool owns it until destroyed.
    boost::asio::post(pool.at(1), [token = std::move(token), &ran] { ran = true; });
    EXPECT_FALSE(watch.expired());
    pool.stop();  // idempotent
  }
  EXPECT_FALSE(ran);
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace pagoda
