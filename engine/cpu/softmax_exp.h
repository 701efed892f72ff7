// exp(x) for the CPU kernels — the softmax of attention and SiLU — written as
// the exact sequence of roundings every vector form repeats lane by lane: a
// clamp, a round-to-nearest range reduction by ln 2 split in two, a degree-7
// polynomial (Cephes' coefficients, relative error < 2e-7) and a scale by 2^n
// built from the exponent bits. Plain code without branches, so loops over it
// vectorise. Pure functions.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace pagoda::cpu {
namespace {  // one copy per translation unit: each ISA's file compiles its own

inline constexpr float kExpLowest = -87.0f;  // exp(-87) ~ 1.6e-38, still normal
inline constexpr float kExpHighest = 88.0f;  // exp(88) ~ 1.7e38, still finite
inline constexpr float kExpLog2e = 1.44269504088896341f;
inline constexpr float kExpLn2Hi = 0.693359375f;  // ln 2 = kExpLn2Hi + kExpLn2Lo
inline constexpr float kExpLn2Lo = -2.12194440e-4f;
inline constexpr float kExpPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                      4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// exp(x) for x in [kExpLowest, kExpHighest].
inline float exp_in_range(float x) {
  const float n = std::nearbyint(x * kExpLog2e);
  float r = std::fma(n, -kExpLn2Hi, x);
  r = std::fma(n, -kExpLn2Lo, r);
  // Horner's rule, written out: a loop here would keep callers' loops from
  // vectorising.
  float y = std::fma(kExpPoly[0], r, kExpPoly[1]);
  y = std::fma(y, r, kExpPoly[2]);
  y = std::fma(y, r, kExpPoly[3]);
  y = std::fma(y, r, kExpPoly[4]);
  y = std::fma(y, r, kExpPoly[5]);
  y = std::fma(y, r * r, r);
  y = y + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  return y * std::bit_cast<float>(bits);
}

// For the softmax: inputs are x <= 0 (scores minus their running maximum);
// anything below -87 is treated as -87 (a weight of ~1e-38).
inline float softmax_exp(float x) {
  x = x > kExpLowest ? x : kExpLowest;  // what a vector max(x, lowest) does, NaN included
  return exp_in_range(x);
}

// For any x (SiLU's exp(-gate)): clamped to [-87, 88] first, so the result is
// finite and above zero; NaN becomes exp(-87).
inline float clamped_exp(float x) {
  x = x > kExpLowest ? x : kExpLowest;
  x = x < kExpHighest ? x : kExpHighest;
  return exp_in_range(x);
}

// The fixed summation tree of sixteen lanes that every attention path uses:
// lanes i and i+8, then i and i+4, then i and i+2, then the last pair.
inline float tree_sum16(const float* v) {
  float x[8], y[4];
  for (int i = 0; i < 8; ++i)
    x[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; ++i)
    y[i] = x[i] + x[i + 4];
  const float z0 = y[0] + y[2], z1 = y[1] + y[3];
  return z0 + z1;
}

}  // namespace
}  // namespace pagoda::cpu
