// Sweep: a benchmark repeated over request rates or concurrency caps, and the
// saturation point — the level past which more offered load stops buying
// output throughput. Pure; any thread.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "bench/client/bench_result.h"

namespace pagoda::bench {

struct SweepSpec {
  enum class Kind { kRate, kConcurrency } kind = Kind::kRate;
  std::vector<double> levels;  // increasing; a rate may be +inf ("inf")
};

// "rate=1,2,4,inf" or "concurrency=1,4,16,64".
StatusOr<SweepSpec> parse_sweep(const std::string& text);

// Sets saturation_index/reason: the first level i after which output
// throughput grows by less than `min_gain` (default 10%) or requests start
// failing; -1 when throughput still grew at the last level.
void find_saturation(BenchResult& result, double min_gain = 0.10);

}  // namespace pagoda::bench
