// StreamSink: collects one Engine request's stream (tokens, text, events) and
// lets a test wait for its final event. The engine's output thread calls the
// callback; the test thread waits and then reads. Test code.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace pagoda::testing {

struct StreamSink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::int32_t> tokens;
  std::vector<TokenLogprobs> logprobs;
  std::string text;
  std::vector<StreamEvent> events;
  bool done = false;

  StreamCallback callback() {
    return [this](StreamEvent e) {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_FALSE(done) << "event after the final event";
      tokens.insert(tokens.end(), e.token_ids.begin(), e.token_ids.end());
      logprobs.insert(logprobs.end(), e.logprobs.begin(), e.logprobs.end());
      text += e.text;
      done = e.finished;
      events.push_back(std::move(e));
      cv.notify_all();
    };
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return done; }));
  }
  const StreamEvent& last() const { return events.back(); }
};

}  // namespace pagoda::testing
