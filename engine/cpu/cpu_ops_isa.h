// The per-ISA builds of cpu_ops.h's kernels (cpu_ops_generic.cc,
// cpu_ops_avx512.cc, both from cpu_ops_kernel.inc), for the dispatcher in
// cpu_ops.cc and for tests that compare the builds. Pure functions.
#pragma once

#include <cstdint>

#include "engine/cpu/cpu_ops.h"  // NormRopeParams

#define PAGODA_DECLARE_CPU_OPS(ns)                                                                       \
  namespace pagoda::cpu::ns {                                                                            \
  void rms_norm_row(const float* x, const std::uint16_t* weight, float eps, std::int64_t n, float* out); \
  void rope_rotate_half(float* x, const float* cos, const float* sin, std::int64_t head_dim);            \
  void rms_norm_rope_heads(const NormRopeParams& p);                                                     \
  void silu_mul_to_bf16(const float* gate, const float* up, std::int64_t n, std::uint16_t* out);         \
  void f32_to_bf16_row(const float* x, std::int64_t n, std::uint16_t* out);                              \
  void bf16_to_f32_row(const std::uint16_t* x, std::int64_t n, float* out);                              \
  double exp_sum(const float* x, std::int64_t n, double shift, double* w);                               \
  }
PAGODA_DECLARE_CPU_OPS(generic)
PAGODA_DECLARE_CPU_OPS(avx512)
#undef PAGODA_DECLARE_CPU_OPS
