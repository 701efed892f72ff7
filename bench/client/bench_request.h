// BenchRequest: one request a workload asks the load generator to send, and
// RequestRecord: what the client measured for it. Plain values; a record is
// written by the one client callback thread that owns the request in flight,
// then handed to the runner.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pagoda::bench {

struct BenchRequest {
  std::int64_t index = 0;
  std::string prompt;                    // the prompt as text (always set)
  std::vector<std::int32_t> prompt_ids;  // the same prompt as ids (gRPC sends these when set)
  std::int32_t prompt_tokens = 0;        // length of the prompt in tokens (our tokenizer)
  std::int32_t max_tokens = 1;           // output length asked for (forced with ignore_eos)
};

struct RequestRecord {
  std::int64_t index = 0;
  bool warmup = false;
  bool ok = false;
  std::string error_kind;  // "http_429", "grpc_UNAVAILABLE", "connect", "timeout", "protocol" ...
  std::string error_message;
  double start_s = 0;                     // sent, seconds since the run started
  double ttft_s = -1;                     // first chunk carrying output, from start; -1 when none came
  double e2e_s = 0;                       // last byte of the response, from start
  std::vector<double> itl_s;              // gaps between consecutive output-carrying chunks (seconds)
  std::int32_t prompt_tokens = 0;         // as sent (our tokenizer)
  std::int32_t stream_tokens = 0;         // output tokens counted from the stream
  std::int32_t usage_prompt_tokens = -1;  // the server's usage, -1 when it did not report any
  std::int32_t usage_completion_tokens = -1;

  // Output tokens for throughput and TPOT: the server's usage when reported, else the stream's count.
  std::int32_t output_tokens() const {
    return usage_completion_tokens >= 0 ? usage_completion_tokens : stream_tokens;
  }
};

}  // namespace pagoda::bench
