// ArrivalSchedule: when each request of a run is sent. Inter-arrival gaps are
// gamma distributed with shape `burstiness` and mean 1/rate (shape 1 is a
// Poisson process; < 1 burstier, > 1 more regular), as vLLM's bench does.
// Pure; any thread.
#pragma once

#include <cstdint>
#include <vector>

namespace pagoda::bench {

// Send times in seconds from the start, non-decreasing; all 0 when rate is +inf.
std::vector<double> arrival_times(std::int64_t num_requests, double rate, double burstiness,
                                  std::uint64_t seed);

}  // namespace pagoda::bench
