// FakeStreamServer: an in-process stand-in for an inference server with known
// timings, for testing the benchmark client and measuring its own overhead.
// It answers pagoda.v1 Generate (gRPC callback API) and OpenAI-compatible
// /v1/chat/completions and /v1/completions (SSE) with exactly max_tokens
// output tokens: the first after ttft, each next one itl later (0: at once),
// and usage at the end. Binds 127.0.0.1 port 0. start()/stop() on one thread;
// requests are served on the server's own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace pagoda::bench {

struct FakeStreamTiming {
  std::chrono::microseconds ttft{0};
  std::chrono::microseconds itl{0};
  int http_status = 200;  // != 200: every HTTP request gets this status and an OpenAI error body
  int usage_delta = 0;    // added to the reported completion_tokens (to test mismatch detection)
};

class FakeStreamServer {
 public:
  explicit FakeStreamServer(FakeStreamTiming timing);
  ~FakeStreamServer();
  FakeStreamServer(const FakeStreamServer&) = delete;
  FakeStreamServer& operator=(const FakeStreamServer&) = delete;

  Status start();
  void stop();
  int grpc_port() const;
  int http_port() const;              // ports stay readable after stop() (then nothing listens there)
  std::int64_t num_requests() const;  // Generate calls + HTTP requests answered

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pagoda::bench
