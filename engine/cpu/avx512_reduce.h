// A fixed-order horizontal sum of an AVX-512 f32 vector, for files compiled
// with -mavx512f only. It follows softmax_exp.h's tree_sum16 exactly (lanes i
// and i+8, then i+4, then i+2, then the last pair), so vector and scalar code
// produce the same bits.
#pragma once

#include <immintrin.h>

namespace pagoda::cpu {
namespace {  // one copy per translation unit: never shared with a non-AVX-512 file

// The sum of v's 16 lanes.
inline float reduce16(__m512 v) {
  // Upper 256 bits onto the lower (a shuffle, avoiding GCC 12's false
  // -Wuninitialized on the extract intrinsics).
  const __m512 folded = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m256 s8 = _mm512_castps512_ps256(folded);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
  return _mm_cvtss_f32(s1);
}

}  // namespace
}  // namespace pagoda::cpu
