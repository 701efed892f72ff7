#include "bench/client/arrival_schedule.h"

#include <cmath>
#include <random>

namespace pagoda::bench {

std::vector<double> arrival_times(std::int64_t num_requests, double rate, double burstiness,
                                  std::uint64_t seed) {
  std::vector<double> times(static_cast<std::size_t>(std::max<std::int64_t>(num_requests, 0)), 0.0);
  if (!std::isfinite(rate) || rate <= 0 || times.empty()) return times;
  std::mt19937_64 rng(seed);
  // Mean gap = shape * scale = 1 / rate.
  std::gamma_distribution<double> gap(burstiness, 1.0 / (rate * burstiness));
  double t = 0;
  for (std::size_t i = 1; i < times.size(); ++i) {
    t += gap(rng);
    times[i] = t;
  }
  return times;
}

}  // namespace pagoda::bench
