// BenchSummary: the run's metrics as vLLM's `bench serve` and AIPerf define
// them, computed from the request records of one run. Pure functions.
//
// Definitions (warm-up records are excluded everywhere):
//   TTFT  = first output chunk - send time.
//   TPOT  = (E2E - TTFT) / (output_tokens - 1), requests with >= 2 output tokens.
//   ITL   = every gap between consecutive output chunks, all requests pooled.
//   E2E   = last byte - send time.
//   throughputs = totals over completed requests / duration_s.
//   goodput = completed requests meeting every SLO / duration_s.
// Percentiles interpolate linearly between order statistics (numpy's default).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "bench/client/bench_request.h"

namespace pagoda::bench {

// Statistics of one latency metric, milliseconds.
struct Distribution {
  std::int64_t count = 0;
  double mean = 0, median = 0, stddev = 0, min = 0, max = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p in [0,100], value)
};

// Service-level objectives for goodput; a value <= 0 means "no objective".
struct Slo {
  double ttft_ms = 0;
  double tpot_ms = 0;
  double itl_ms = 0;  // applies to each request's worst gap
  double e2e_ms = 0;
  bool any() const { return ttft_ms > 0 || tpot_ms > 0 || itl_ms > 0 || e2e_ms > 0; }
};

// "ttft=500ms,tpot=50ms,e2e=2s" (units ms or s; bare numbers are ms).
StatusOr<Slo> parse_slo(const std::string& text);
// "50,90,99,99.9": percentiles in (0, 100].
StatusOr<std::vector<double>> parse_percentiles(const std::string& text);

struct BenchSummary {
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  std::map<std::string, std::int64_t> errors;  // error_kind -> count
  double duration_s = 0;
  std::int64_t total_input_tokens = 0;
  std::int64_t total_output_tokens = 0;
  double request_throughput = 0;  // completed / s
  double input_throughput = 0;    // tokens / s
  double output_throughput = 0;
  double total_throughput = 0;
  Distribution ttft_ms, tpot_ms, itl_ms, e2e_ms;
  Slo slo;
  std::int64_t good_requests = 0;
  double goodput = 0;  // good requests / s (0 when no SLO is set)
  // Requests whose stream-counted tokens differ from the server's usage.
  std::int64_t usage_mismatches = 0;
  std::int64_t usage_reported = 0;  // completed requests that carried usage
};

Distribution distribution(std::vector<double> values_ms, const std::vector<double>& percentiles);
BenchSummary summarize(const std::vector<RequestRecord>& records, double duration_s,
                       const std::vector<double>& percentiles, const Slo& slo);

}  // namespace pagoda::bench
