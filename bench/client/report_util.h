// Helpers shared by the report writers (table, JSON, CSV, HTML): number
// formatting, percentile names and lookups, and the per-request latency
// samples behind the plots. Internal to pagoda_bench_client; pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/client/bench_request.h"
#include "bench/client/bench_result.h"
#include "bench/client/bench_summary.h"

namespace pagoda::bench {

// 99 -> "p99", 99.9 -> "p99.9", 50 -> "p50".
std::string percentile_name(double p);
// The value at percentile p in `d`, when `d` has it.
std::optional<double> percentile_of(const Distribution& d, double p);
// The percentiles a report lists: the result's, else those of the first
// run's TTFT distribution.
std::vector<double> report_percentiles(const BenchResult& result);
// The tail percentile for compact tables and sweep plots: 99 when reported,
// else the largest reported, else 99.
double tail_percentile(const BenchResult& result);

// Fixed decimals; "inf", "-inf" and "nan" for non-finite values.
std::string format_fixed(double v, int decimals);
// Two decimals, the reports' usual precision: format_fixed(v, 2).
inline std::string fixed2(double v) {
  return format_fixed(v, 2);
}
// The shortest text that reads back as `v`; "inf", "-inf", "nan" when not finite.
std::string format_shortest(double v);
// Replaces control characters (terminal escapes) with '?' for plain-text output.
std::string printable(std::string_view text);

// Per-request latency samples of one run in milliseconds, as BenchSummary
// defines them: successful, non-warm-up requests only.
struct LatencySamples {
  std::vector<double> ttft_ms, tpot_ms, itl_ms, e2e_ms;
};
LatencySamples latency_samples(const std::vector<RequestRecord>& records);

}  // namespace pagoda::bench
