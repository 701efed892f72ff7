// RequestTimer: fills a RequestRecord's timings as its response streams in
// (send, each output chunk, end), in seconds since the run's epoch. Used by
// the one client thread handling that request.
#pragma once

#include <chrono>
#include <cstdint>

#include "bench/client/bench_request.h"

namespace pagoda::bench {

using BenchClock = std::chrono::steady_clock;

class RequestTimer {
 public:
  RequestTimer(BenchClock::time_point epoch, RequestRecord& record) : epoch_(epoch), record_(record) {}
  void on_sent() { record_.start_s = now_s(); }
  // A chunk carrying `num_tokens` output tokens arrived.
  void on_output(std::int32_t num_tokens) {
    double t = now_s();
    if (record_.ttft_s < 0) {
      record_.ttft_s = t - record_.start_s;
    } else {
      record_.itl_s.push_back(t - last_output_s_);
    }
    last_output_s_ = t;
    record_.stream_tokens += num_tokens;
  }
  void on_end() { record_.e2e_s = now_s() - record_.start_s; }

 private:
  double now_s() const { return std::chrono::duration<double>(BenchClock::now() - epoch_).count(); }
  BenchClock::time_point epoch_;
  RequestRecord& record_;
  double last_output_s_ = 0;
};

}  // namespace pagoda::bench
