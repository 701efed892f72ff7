// Run-time dispatch of cpu_ops.h to the kernels compiled for this CPU (every
// path computes the same bits; the wider ones are only faster).
#include "engine/cpu/cpu_ops.h"

#include "engine/cpu/cpu_isa.h"
#include "engine/cpu/cpu_ops_isa.h"

namespace pagoda::cpu {
namespace {

bool use_avx512() {
  static const bool yes = detected_isa() == CpuIsa::kAvx512Bf16;
  return yes;
}

}  // namespace

void rms_norm_row(const float* x, const std::uint16_t* weight, float eps, std::int64_t n, float* out) {
  use_avx512() ? avx512::rms_norm_row(x, weight, eps, n, out) : generic::rms_norm_row(x, weight, eps, n, out);
}

void rope_rotate_half(float* x, const float* cos, const float* sin, std::int64_t head_dim) {
  use_avx512() ? avx512::rope_rotate_half(x, cos, sin, head_dim)
               : generic::rope_rotate_half(x, cos, sin, head_dim);
}

void rms_norm_rope_heads(const NormRopeParams& p) {
  use_avx512() ? avx512::rms_norm_rope_heads(p) : generic::rms_norm_rope_heads(p);
}

void silu_mul_to_bf16(const float* gate, const float* up, std::int64_t n, std::uint16_t* out) {
  use_avx512() ? avx512::silu_mul_to_bf16(gate, up, n, out) : generic::silu_mul_to_bf16(gate, up, n, out);
}

double exp_sum(const float* x, std::int64_t n, double shift, double* w) {
  return use_avx512() ? avx512::exp_sum(x, n, shift, w) : generic::exp_sum(x, n, shift, w);
}

void f32_to_bf16_row(const float* x, std::int64_t n, std::uint16_t* out) {
  use_avx512() ? avx512::f32_to_bf16_row(x, n, out) : generic::f32_to_bf16_row(x, n, out);
}

void bf16_to_f32_row(const std::uint16_t* x, std::int64_t n, float* out) {
  use_avx512() ? avx512::bf16_to_f32_row(x, n, out) : generic::bf16_to_f32_row(x, n, out);
}

}  // namespace pagoda::cpu
