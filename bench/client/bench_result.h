// BenchResult: everything one `pagoda bench serve` invocation measured — one
// run, or one run per level of a sweep — ready for the report writers.
// Plain value built by the runner on the main thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/client/bench_request.h"
#include "bench/client/bench_summary.h"
#include "bench/client/server_view.h"

namespace pagoda::bench {

// One load level.
struct BenchRun {
  std::string label;         // "rate=4", "concurrency=16", "rate=inf"
  double request_rate = 0;   // requests/s asked for; +inf sends all at once
  double burstiness = 1;     // gamma shape; 1 is Poisson
  int max_concurrency = 0;   // 0: unlimited
  double achieved_rate = 0;  // requests/s actually sent (client check)
  BenchSummary summary;
  ServerView server;
  std::vector<RequestRecord> records;  // warm-up included, flagged
};

struct BenchResult {
  std::string protocol;  // grpc, openai-chat, openai-completions
  std::string target;    // host:port
  std::string model;
  std::string workload;  // "random(in=512±10%,out=128±10%)", ...
  std::uint64_t seed = 0;
  std::string started_at;  // UTC, ISO 8601
  std::string client_version;
  std::vector<double> percentiles;
  std::vector<BenchRun> runs;  // one, or one per sweep level in order
  // Sweep: the first level past which output throughput stopped growing (-1: none found).
  int saturation_index = -1;
  std::string saturation_reason;
};

}  // namespace pagoda::bench
