// bfloat16 and float16 <-> float32 conversions on the host. Pure functions.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace pagoda {

// Round to nearest even; NaN stays a (quiet) NaN.
inline std::uint16_t f32_to_bf16(float f) {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}

inline float bf16_to_f32(std::uint16_t b) {
  std::uint32_t x = static_cast<std::uint32_t>(b) << 16;
  float f = 0;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

inline float f16_to_f32(std::uint16_t h) {
  return static_cast<float>(std::bit_cast<_Float16>(h));
}

inline std::uint16_t f32_to_f16(float f) {
  return std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
}

}  // namespace pagoda
