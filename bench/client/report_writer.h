// Report writers for `pagoda bench serve`: the human table printed at the end
// of a run (vLLM's "Serving Benchmark Result" block), JSON, CSV and a
// self-contained HTML page with SVG plots. Pure functions of a BenchResult;
// any thread. Text from the user or the server (labels, error messages) is
// escaped for each format.
#pragma once

#include <string>

#include "bench/client/bench_result.h"

namespace pagoda::bench {

// The end-of-run table: one block per run (vLLM's layout and wording, latencies
// in ms), and for a sweep a one-line-per-level summary marking the saturation
// level. Control characters in labels and messages are replaced by '?'.
std::string format_table(const BenchResult& result);

// Every field of `result` (runs[].records only when `include_records`).
// Distributions carry their percentiles as named fields ("p99", "p99.9").
// Non-finite numbers become the strings "inf", "-inf" and "nan"; invalid UTF-8
// in strings is replaced by U+FFFD. Pretty-printed with two spaces.
std::string to_json(const BenchResult& result, bool include_records);

// A header row and one row per run (level summary metrics), RFC 4180: CRLF
// line ends, fields with a comma, quote or line break are quoted, quotes doubled.
// Percentile columns follow result.percentiles ("ttft_ms_p99").
std::string to_csv(const BenchResult& result);

// One self-contained HTML page (no external scripts, fonts or styles): run
// information, the summary table, latency CDF plots for TTFT, TPOT, ITL and
// E2E (one curve per run, from the request records, or from the percentiles
// when a run has no records) and, for a sweep, throughput-latency plots for
// TPOT and E2E (median and tail percentile per level, saturation level ringed).
std::string to_html(const BenchResult& result);

}  // namespace pagoda::bench
