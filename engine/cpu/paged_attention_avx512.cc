// paged_attention's arithmetic in AVX-512 (this file is compiled with
// -mavx512f -mavx512bw -mfma). It reproduces paged_attention_kernel.inc lane by
// lane: scores keep one 16-lane fma chain per key and reduce all sixteen keys
// of a chunk with the same tree at once; the softmax runs with the chunk's
// keys in the lanes; the value update has head dimensions in the lanes. Where
// a chunk is consecutive cache rows, the step reads them as bf16 and widens
// each in a register (the same values the widened chunk holds).
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers build results on _mm512_undefined_*(), which its
// own -Wuninitialized flags at every inlined use (a known GCC false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <limits>

#include "engine/cpu/avx512_reduce.h"
#include "engine/cpu/paged_attention_tile.h"
#include "engine/cpu/softmax_exp.h"

namespace pagoda::cpu::avx512 {
namespace {

constexpr std::int64_t kChunk = kAttentionKeyChunk;
static_assert(kChunk == 16, "the vector step keeps one chunk of keys in the lanes of one register");

inline __mmask16 head_mask(std::int64_t d0, std::int64_t head_dim) {
  const std::int64_t left = head_dim - d0;
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

// Sixteen elements of a K or V row as f32: a widened row, or bf16 in the cache.
inline __m512 load_row16(const float* src) {
  return _mm512_loadu_ps(src);
}
inline __m512 load_row16(const std::uint16_t* src) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// softmax_exp on each lane.
inline __m512 softmax_exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(kExpLowest));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kExpLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kExpLn2Hi), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kExpLn2Lo), r);
  __m512 y = _mm512_set1_ps(kExpPoly[0]);
  for (int i = 1; i < 6; ++i)
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kExpPoly[i]));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r);
  y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
}

struct Avx512AttentionOps {
  static constexpr bool kStepsOnCache = true;

  static void widen(const std::uint16_t* src, std::int64_t head_dim, std::int64_t dim, float* dst) {
    for (std::int64_t d0 = 0; d0 < dim; d0 += 16) {
      const __m256i h = _mm256_maskz_loadu_epi16(head_mask(d0, head_dim), src + d0);
      _mm512_storeu_ps(dst + d0, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
    }
  }

  static void step(const float* q, std::int64_t head_dim, std::int64_t dim, const float* k, const float* v,
                   std::int64_t valid, float scale, float* m, float* l, float* o) {
    step_rows(q, head_dim, dim, k, v, valid, scale, m, l, o);
  }

  // The chunk's rows read in place (head_dim is a multiple of 16, so dim ==
  // head_dim). Rows at and past `valid` only feed score lanes that are masked.
  static void step_on_cache(const float* q, std::int64_t head_dim, const std::uint16_t* k,
                            const std::uint16_t* v, std::int64_t valid, float scale, float* m, float* l,
                            float* o) {
    step_rows(q, head_dim, head_dim, k, v, valid, scale, m, l, o);
  }

  // Either step, with its rows of `dim` elements (a widened chunk or the cache).
  template <class Row>
  static void step_rows(const float* q, std::int64_t head_dim, std::int64_t dim, const Row* k, const Row* v,
                        std::int64_t valid, float scale, float* m, float* l, float* o) {
    // With the row length known at compile time every key's load is one base
    // register plus a constant; with it at run time GCC keeps sixteen key
    // pointers, runs out of registers and spills the accumulators on every
    // iteration (prefill attention was 1.5x slower, docs/performance.md).
    switch (dim) {
      case 128:
        return step_dim<128>(q, head_dim, dim, k, v, valid, scale, m, l, o);
      case 64:
        return step_dim<64>(q, head_dim, dim, k, v, valid, scale, m, l, o);
      default:
        return step_dim<0>(q, head_dim, dim, k, v, valid, scale, m, l, o);
    }
  }

  // kDim: the padded row length if fixed, else 0 (use dim_at_run_time).
  // Row is float (a widened chunk) or std::uint16_t (bf16 rows of the cache).
  template <std::int64_t kDim, class Row>
  static void step_dim(const float* q, std::int64_t head_dim, std::int64_t dim_at_run_time, const Row* k,
                       const Row* v, std::int64_t valid, float scale, float* m, float* l, float* o) {
    const std::int64_t dim = kDim != 0 ? kDim : dim_at_run_time;
    __m512 acc[kChunk];
    // Fully unrolled (with kDim fixed), the sixteen accumulators live in
    // registers; otherwise GCC keeps the array on the stack and stores all of
    // it on every pass.
#pragma GCC unroll 16
    for (auto& a : acc)
      a = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (std::int64_t d0 = 0; d0 < dim; d0 += 16) {
      const __m512 qv = _mm512_maskz_loadu_ps(head_mask(d0, head_dim), q + d0);
#pragma GCC unroll 16
      for (std::int64_t j = 0; j < kChunk; ++j)
        acc[j] = _mm512_fmadd_ps(qv, load_row16(k + j * dim + d0), acc[j]);
    }
    alignas(64) float p[kChunk];
    const float alpha = softmax_step(acc, valid, scale, m, l, p);
    // A whole chunk (every chunk of a prompt but its last) takes a loop with a
    // fixed trip count; a partial one the general loop.
    if (valid == kChunk) {
      accumulate_values<kDim, kChunk>(p, v, alpha, dim, valid, o);
    } else {
      accumulate_values<kDim, 0>(p, v, alpha, dim, valid, o);
    }
  }

  // From one query row's sixteen score accumulators (key j in acc[j]): the
  // chunk's scores, the online-softmax update of m and l, the probabilities
  // into p; returns the factor alpha that rescales the row's outputs.
  [[gnu::always_inline]] static float softmax_step(const __m512 (&acc)[kChunk], std::int64_t valid,
                                                   float scale, float* m, float* l, float* p) {
    const __mmask16 seen = static_cast<__mmask16>((1u << valid) - 1);
    const __m512 s = _mm512_mask_mov_ps(_mm512_set1_ps(-std::numeric_limits<float>::infinity()), seen,
                                        _mm512_mul_ps(reduce16x16(acc), _mm512_set1_ps(scale)));
    const float m_new = std::max(*m, _mm512_reduce_max_ps(s));
    const float alpha = softmax_exp(*m - m_new);
    const __m512 pj = _mm512_maskz_mov_ps(seen, softmax_exp16(_mm512_sub_ps(s, _mm512_set1_ps(m_new))));
    _mm512_storeu_ps(l, _mm512_fmadd_ps(_mm512_loadu_ps(l), _mm512_set1_ps(alpha), pj));
    _mm512_store_ps(p, pj);
    *m = m_new;
    return alpha;
  }

  // Two query rows that see the same keys (two heads of one token's group)
  // take their steps on one pass over the chunk's cache rows: each K and V
  // row is loaded and widened once for both. Each row's arithmetic is
  // step_dim's (every accumulator sums over d, or j, in the same order).
  static void step_pair_on_cache(const PairedRows& rows, std::int64_t head_dim, const std::uint16_t* k,
                                 const std::uint16_t* v, std::int64_t valid, float scale) {
    switch (head_dim) {
      case 128:
        return step_pair_dim<128>(rows, k, v, valid, scale);
      case 64:
        return step_pair_dim<64>(rows, k, v, valid, scale);
      default:
        for (int r = 0; r < 2; ++r)
          step_on_cache(rows.q[r], head_dim, k, v, valid, scale, rows.m[r], rows.l[r], rows.o[r]);
    }
  }

  template <std::int64_t kDim>
  static void step_pair_dim(const PairedRows& rows, const std::uint16_t* k, const std::uint16_t* v,
                            std::int64_t valid, float scale) {
    // Scores eight keys at a time: two rows of sixteen accumulators would not
    // fit in the registers.
    constexpr std::int64_t kHalf = kChunk / 2;
    __m512 acc[2][kChunk];
    for (std::int64_t j0 = 0; j0 < kChunk; j0 += kHalf) {
      __m512 a0[kHalf], a1[kHalf];
#pragma GCC unroll 8
      for (std::int64_t j = 0; j < kHalf; ++j) {
        a0[j] = _mm512_setzero_ps();
        a1[j] = _mm512_setzero_ps();
      }
#pragma GCC unroll 8
      for (std::int64_t d0 = 0; d0 < kDim; d0 += 16) {
        const __m512 q0 = _mm512_loadu_ps(rows.q[0] + d0), q1 = _mm512_loadu_ps(rows.q[1] + d0);
#pragma GCC unroll 8
        for (std::int64_t j = 0; j < kHalf; ++j) {
          const __m512 kv = load_row16(k + (j0 + j) * kDim + d0);
          a0[j] = _mm512_fmadd_ps(q0, kv, a0[j]);
          a1[j] = _mm512_fmadd_ps(q1, kv, a1[j]);
        }
      }
#pragma GCC unroll 8
      for (std::int64_t j = 0; j < kHalf; ++j) {
        acc[0][j0 + j] = a0[j];
        acc[1][j0 + j] = a1[j];
      }
    }
    alignas(64) float p[2][kChunk];
    const float alpha0 = softmax_step(acc[0], valid, scale, rows.m[0], rows.l[0], p[0]);
    const float alpha1 = softmax_step(acc[1], valid, scale, rows.m[1], rows.l[1], p[1]);
    constexpr std::int64_t kBlocks = kDim / 16;
    __m512 o0[kBlocks], o1[kBlocks];
    for (std::int64_t b = 0; b < kBlocks; ++b) {
      o0[b] = _mm512_mul_ps(_mm512_loadu_ps(rows.o[0] + 16 * b), _mm512_set1_ps(alpha0));
      o1[b] = _mm512_mul_ps(_mm512_loadu_ps(rows.o[1] + 16 * b), _mm512_set1_ps(alpha1));
    }
    for (std::int64_t j = 0; j < valid; ++j) {
      const __m512 p0 = _mm512_set1_ps(p[0][j]), p1 = _mm512_set1_ps(p[1][j]);
      for (std::int64_t b = 0; b < kBlocks; ++b) {
        const __m512 vv = load_row16(v + j * kDim + 16 * b);
        o0[b] = _mm512_fmadd_ps(p0, vv, o0[b]);
        o1[b] = _mm512_fmadd_ps(p1, vv, o1[b]);
      }
    }
    for (std::int64_t b = 0; b < kBlocks; ++b) {
      _mm512_storeu_ps(rows.o[0] + 16 * b, o0[b]);
      _mm512_storeu_ps(rows.o[1] + 16 * b, o1[b]);
    }
  }

  // o = o * alpha + sum over j < valid of p[j] * v[j], j in order; kValid
  // fixes valid at compile time when non-zero (same arithmetic either way).
  template <std::int64_t kDim, std::int64_t kValid, class Row>
  static void accumulate_values(const float* p, const Row* v, float alpha, std::int64_t dim_at_run_time,
                                std::int64_t valid_at_run_time, float* o) {
    const std::int64_t valid = kValid != 0 ? kValid : valid_at_run_time;
    if constexpr (kDim != 0) {
      // The whole row in registers: each p[j] is broadcast once, not once per
      // dimension block. Every lane still sums j in order.
      constexpr std::int64_t kBlocks = kDim / 16;
      __m512 ov[kBlocks];
      for (std::int64_t b = 0; b < kBlocks; ++b)
        ov[b] = _mm512_mul_ps(_mm512_loadu_ps(o + 16 * b), _mm512_set1_ps(alpha));
      for (std::int64_t j = 0; j < valid; ++j) {
        const __m512 pj = _mm512_set1_ps(p[j]);
        for (std::int64_t b = 0; b < kBlocks; ++b)
          ov[b] = _mm512_fmadd_ps(pj, load_row16(v + j * kDim + 16 * b), ov[b]);
      }
      for (std::int64_t b = 0; b < kBlocks; ++b)
        _mm512_storeu_ps(o + 16 * b, ov[b]);
      return;
    }
    const std::int64_t dim = dim_at_run_time;
    for (std::int64_t d0 = 0; d0 < dim; d0 += 16) {
      __m512 ov = _mm512_mul_ps(_mm512_loadu_ps(o + d0), _mm512_set1_ps(alpha));
      for (std::int64_t j = 0; j < valid; ++j)
        ov = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), load_row16(v + j * dim + d0), ov);
      _mm512_storeu_ps(o + d0, ov);
    }
  }

  static void finish(const float* l, const float* o, std::int64_t head_dim, float* out) {
    const __m512 inv = _mm512_set1_ps(1.0f / reduce16(_mm512_loadu_ps(l)));
    for (std::int64_t d0 = 0; d0 < head_dim; d0 += 16)
      _mm512_mask_storeu_ps(out + d0, head_mask(d0, head_dim), _mm512_mul_ps(_mm512_loadu_ps(o + d0), inv));
  }
};

}  // namespace

void attend_tile(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head) {
  attend_tile_with<Avx512AttentionOps>(p, tile, kv_head);
}

}  // namespace pagoda::cpu::avx512
