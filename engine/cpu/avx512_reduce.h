// Fixed-order horizontal sums of AVX-512 f32 vectors, for files compiled with
// -mavx512f only. Both follow softmax_exp.h's tree_sum16 exactly (lanes i and
// i+8, then i+4, then i+2, then the last pair), so vector and scalar code
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

// Lane j of the result is reduce16(a[j]): sixteen sums at once, each by the
// same tree, in 30 shuffles and 15 adds.
inline __m512 reduce16x16(const __m512 (&a)[16]) {
  __m512 b[8], c[4], d[2];
  for (int i = 0; i < 8; ++i) {  // lanes i + (i+8): [a_2i halves summed | a_2i+1 halves summed]
    b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
  }
  for (int i = 0; i < 4; ++i) {  // + 4: 128-bit block q holds key 4i+q
    c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
  }
  for (int i = 0; i < 2; ++i) {  // + 2, within each 128-bit block
    d[i] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * i], c[2 * i + 1], 0x44),
                         _mm512_shuffle_ps(c[2 * i], c[2 * i + 1], 0xEE));
  }
  const __m512 e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
  // Lane 4k + q of e holds key 4q + k; put key j in lane j.
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_permutexvar_ps(order, e);
}

}  // namespace
}  // namespace pagoda::cpu
