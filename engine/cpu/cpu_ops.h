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

// q_norm / k_norm then rotate-half RoPE, in place, on the head vectors of
// `rows` rows: row r holds num_heads heads [num_heads][head_dim] (head_dim
// even) at x + r * ld and is rotated by cos/sin + r * cs_ld [head_dim / 2]
// (cs_ld 0: one position for all). One weight [head_dim] for every head.
struct NormRopeParams {
  float* x = nullptr;
  std::int64_t rows = 0, ld = 0, num_heads = 0, head_dim = 0;
  const std::uint16_t* weight = nullptr;
  float eps = 0.0f;
  const float* cos = nullptr;
  const float* sin = nullptr;
  std::int64_t cs_ld = 0;
};
// Exactly rms_norm_inplace then rope_rotate_half on each head (the same
// bits), with the heads' reductions side by side so their chains of dependent
// adds overlap.
void rms_norm_rope_heads(const NormRopeParams& p);

// out[i] = silu(gate[i]) * up[i], rounded to bf16.
void silu_mul_to_bf16(const float* gate, const float* up, std::int64_t n, std::uint16_t* out);

// The sum over i < n of exp(x[i] - shift) in double, for x[i] <= shift (the
// softmax weights of a row of logits; -inf and NaN give 0), each term within 2e-14
// of std::exp; eight partial sums in a fixed pattern, added in lane order.
// When w is not null, w[i] receives each term.
double exp_sum(const float* x, std::int64_t n, double shift, double* w);

void f32_to_bf16_row(const float* x, std::int64_t n, std::uint16_t* out);
void bf16_to_f32_row(const std::uint16_t* x, std::int64_t n, float* out);

}  // namespace pagoda::cpu
