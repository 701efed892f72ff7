// LoadRunner: sends a workload to a target at a request rate (Poisson or
// gamma arrivals) under an optional concurrency cap, for a count or a
// duration, after warm-up requests that are excluded from the results; shows
// progress and returns every request's record. Runs on the calling thread;
// completions arrive on the client's threads and are handed over under a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/client/bench_request.h"
#include "bench/client/target_client.h"

namespace pagoda::bench {

class MetricsScraper;

struct LoadOptions {
  double request_rate = 0;  // requests/s; <= 0 or +inf: all at once
  double burstiness = 1.0;
  int max_concurrency = 0;      // 0: unlimited
  std::int64_t num_warmup = 0;  // sent first, waited for, and flagged
  double duration_s = 0;        // > 0: cycle the workload until this much time has passed
  std::uint64_t seed = 0;
  bool progress = false;  // a progress line on stderr
  std::string label;      // shown in the progress line
};

struct LoadOutcome {
  std::vector<RequestRecord> records;  // warm-up first, then in send order
  double duration_s = 0;               // first measured send to last completion
  double achieved_rate = 0;            // measured sends / send phase (requests/s)
};

// `on_measured_start` runs after the warm-up, just before the first measured
// send (e.g. to take the server's "before" metrics).
LoadOutcome run_load(TargetClient& client, const std::vector<BenchRequest>& requests,
                     const LoadOptions& options, const std::function<void()>& on_measured_start = {});

}  // namespace pagoda::bench
