#include "engine/cpu/cpu_ops.h"

#include <cmath>

#include "base/bf16.h"

namespace pagoda::cpu {

void rms_norm_row(const float* x, const std::uint16_t* weight, float eps, std::int64_t n, float* out) {
  // Sixteen partial sums in a fixed pattern: vectorisable without reassociation.
  float partial[16] = {};
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int l = 0; l < 16; ++l)
      partial[l] += x[i + l] * x[i + l];
  }
  for (; i < n; ++i)
    partial[i % 16] += x[i] * x[i];
  float sum = 0.0f;
  for (float p : partial)
    sum += p;
  const float inv = 1.0f / std::sqrt(sum / static_cast<float>(n) + eps);
  for (std::int64_t j = 0; j < n; ++j)
    out[j] = x[j] * inv * bf16_to_f32(weight[j]);
}

void rope_rotate_half(float* x, const float* cos, const float* sin, std::int64_t head_dim) {
  const std::int64_t half = head_dim / 2;
  for (std::int64_t i = 0; i < half; ++i) {
    float x1 = x[i];
    float x2 = x[i + half];
    x[i] = x1 * cos[i] - x2 * sin[i];
    x[i + half] = x2 * cos[i] + x1 * sin[i];
  }
}

void silu_mul_to_bf16(const float* gate, const float* up, std::int64_t n, std::uint16_t* out) {
  for (std::int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    out[i] = f32_to_bf16(g / (1.0f + std::exp(-g)) * up[i]);
  }
}

void f32_to_bf16_row(const float* x, std::int64_t n, std::uint16_t* out) {
  for (std::int64_t i = 0; i < n; ++i)
    out[i] = f32_to_bf16(x[i]);
}

void bf16_to_f32_row(const std::uint16_t* x, std::int64_t n, float* out) {
  for (std::int64_t i = 0; i < n; ++i)
    out[i] = bf16_to_f32(x[i]);
}

}  // namespace pagoda::cpu
