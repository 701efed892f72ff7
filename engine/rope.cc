#include "engine/rope.h"

#include <algorithm>
#include <cmath>

namespace pagoda {
namespace {

// transformers' _compute_yarn_parameters, in double precision.
double yarn_correction_dim(double num_rotations, double dim, double base, double max_positions) {
  return (dim * std::log(max_positions / (num_rotations * 2.0 * M_PI))) / (2.0 * std::log(base));
}

}  // namespace

RopeFrequencies rope_frequencies(const ModelConfig& c) {
  const int dim = c.head_dim;
  const int half = dim / 2;
  RopeFrequencies r;
  r.inv_freq.resize(static_cast<std::size_t>(half));
  for (int i = 0; i < half; ++i) {
    r.inv_freq[static_cast<std::size_t>(i)] = 1.0 / std::pow(c.rope_theta, (2.0 * i) / dim);
  }
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeScaling::Type::kLinear) {
    for (double& f : r.inv_freq)
      f /= s.factor;
  } else if (s.type == RopeScaling::Type::kYarn) {
    const double base = c.rope_theta;
    const double orig = static_cast<double>(s.original_max_position_embeddings);
    double low = yarn_correction_dim(s.beta_fast, dim, base, orig);
    double high = yarn_correction_dim(s.beta_slow, dim, base, orig);
    if (s.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    for (int i = 0; i < half; ++i) {
      double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      double extrapolation_factor = 1.0 - ramp;
      double extrapolated = r.inv_freq[static_cast<std::size_t>(i)];
      double interpolated = extrapolated / s.factor;
      r.inv_freq[static_cast<std::size_t>(i)] =
          interpolated * (1.0 - extrapolation_factor) + extrapolated * extrapolation_factor;
    }
    r.attention_scaling =
        s.attention_factor ? *s.attention_factor : (s.factor <= 1.0 ? 1.0 : 0.1 * std::log(s.factor) + 1.0);
  }
  return r;
}

}  // namespace pagoda
