// AVX2 path of gemm_bf16 (compiled with -mavx2 -mfma): bf16 widened to f32
// and one 8-lane FMA accumulator per output element, reduced in a fixed order.
#include <immintrin.h>

#include <algorithm>

#include "base/bf16.h"
#include "engine/cpu/gemm.h"

namespace pagoda::cpu {
namespace {

inline __m256 load_bf16x8(const std::uint16_t* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}

inline float reduce8(__m256 v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

template <int MR, int NR>
inline void tile(const GemmParams& p, std::int64_t i0, std::int64_t j0) {
  __m256 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b)
      acc[a][b] = _mm256_setzero_ps();
  std::int64_t kk = 0;
  for (; kk + 8 <= p.k; kk += 8) {
    __m256 wv[NR];
    for (int b = 0; b < NR; ++b)
      wv[b] = load_bf16x8(p.w + (j0 + b) * p.ldw + kk);
    for (int a = 0; a < MR; ++a) {
      __m256 xv = load_bf16x8(p.x + (i0 + a) * p.ldx + kk);
      for (int b = 0; b < NR; ++b)
        acc[a][b] = _mm256_fmadd_ps(xv, wv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < MR; ++a) {
    for (int b = 0; b < NR; ++b) {
      float s = reduce8(acc[a][b]);
      for (std::int64_t t = kk; t < p.k; ++t) {
        s += bf16_to_f32(p.x[(i0 + a) * p.ldx + t]) * bf16_to_f32(p.w[(j0 + b) * p.ldw + t]);
      }
      p.y[(i0 + a) * p.ldy + j0 + b] = s;
    }
  }
}

template <int MR>
inline void row_block(const GemmParams& p, std::int64_t i0, std::int64_t j0, std::int64_t j1) {
  std::int64_t j = j0;
  for (; j + 4 <= j1; j += 4)
    tile<MR, 4>(p, i0, j);
  for (; j < j1; ++j)
    tile<MR, 1>(p, i0, j);
}

}  // namespace

void gemm_bf16_avx2(const GemmParams& p, std::int64_t n_begin, std::int64_t n_end) {
  constexpr std::int64_t kColumnBlock = 16;
  for (std::int64_t j0 = n_begin; j0 < n_end; j0 += kColumnBlock) {
    std::int64_t j1 = std::min(n_end, j0 + kColumnBlock);
    std::int64_t i = 0;
    for (; i + 3 <= p.m; i += 3)
      row_block<3>(p, i, j0, j1);
    for (; i < p.m; ++i)
      row_block<1>(p, i, j0, j1);
  }
}

}  // namespace pagoda::cpu
