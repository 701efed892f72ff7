// Element-wise and row-wise CPU kernels of the Qwen 3 forward pass. Each works
// on one row (or one head) at a time in a fixed order, so results never depend
// on batch composition. Pure functions; callers parallelise over rows.
#pragma once

#include <cstdint>

namespace pagoda::cpu {

// out = x / rms(x) * weight, f32 accumulation; weight is bf16 [n].
void rms_norm_row(const float* x, const std::uint16_t* weight, float eps, std::int64_t n, float* out);

// The same, in place on a head vector (q_norm / k_norm over head_dim).
inline void rms_norm_inplace(float* x, const std::uint16_t* weight, float eps, std::int64_t n) {
  rms_norm_row(x, weight, eps, n, x);
}

// Rotate-half RoPE on one head vector x [head_dim] with cos/sin [head_dim/2].
void rope_rotate_half(float* x, const float* cos, const float* sin, std::int64_t head_dim);

// q_norm / k_norm then RoPE on num_heads head vectors x [num_heads][head_dim]
// (even) in place, one weight [head_dim] for all: exactly rms_norm_inplace then
// rope_rotate_half on each head (the same bits), only faster.
void rms_norm_rope_heads(float* x, std::int64_t num_heads, std::int64_t head_dim, const std::uint16_t* weight,
                         float eps, const float* cos, const float* sin);

// out[i] = silu(gate[i]) * up[i], rounded to bf16.
void silu_mul_to_bf16(const float* gate, const float* up, std::int64_t n, std::uint16_t* out);

void f32_to_bf16_row(const float* x, std::int64_t n, std::uint16_t* out);
void bf16_to_f32_row(const std::uint16_t* x, std::int64_t n, float* out);

}  // namespace pagoda::cpu
