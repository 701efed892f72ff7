// AVX-512 BF16 path of gemm_bf16 (this file is compiled with -mavx512bf16).
// Each output element keeps one 16-lane f32 accumulator fed by vdpbf16ps over
// k in steps of 32, then one fixed horizontal reduction: the same instruction
// sequence whatever tile the element sits in, which is what makes the product
// batch invariant while tiles share loads of x and w.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers build results on _mm512_undefined_*(), which its
// own -Wuninitialized flags at every inlined use (a known GCC false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>

#include "engine/cpu/avx512_reduce.h"
#include "engine/cpu/gemm.h"

namespace pagoda::cpu {
namespace {

inline __m512bh load_bf16x32(const std::uint16_t* p, __mmask32 mask, bool full) {
  __m512i v = full ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16(mask, p);
  return reinterpret_cast<__m512bh&>(v);
}

// y[i0..i0+MR) x [j0..j0+NR). With a non-zero `prefetch` (elements), each
// step also asks for the same k-range of the weight rows that far ahead, so the
// next column block streams in from memory while this one computes.
template <int MR, int NR>
inline void tile(const GemmParams& p, std::int64_t i0, std::int64_t j0, std::int64_t prefetch) {
  __m512 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b)
      acc[a][b] = _mm512_setzero_ps();
  const std::uint16_t* xr[MR];
  const std::uint16_t* wr[NR];
  for (int a = 0; a < MR; ++a)
    xr[a] = p.x + (i0 + a) * p.ldx;
  for (int b = 0; b < NR; ++b)
    wr[b] = p.w + (j0 + b) * p.ldw;
  std::int64_t kk = 0;
  for (; kk + 32 <= p.k; kk += 32) {
    __m512bh wv[NR];
    for (int b = 0; b < NR; ++b) {
      if (prefetch != 0) _mm_prefetch(reinterpret_cast<const char*>(wr[b] + kk + prefetch), _MM_HINT_T0);
      wv[b] = load_bf16x32(wr[b] + kk, 0, true);
    }
    for (int a = 0; a < MR; ++a) {
      __m512bh xv = load_bf16x32(xr[a] + kk, 0, true);
      for (int b = 0; b < NR; ++b)
        acc[a][b] = _mm512_dpbf16_ps(acc[a][b], xv, wv[b]);
    }
  }
  if (kk < p.k) {
    __mmask32 mask = static_cast<__mmask32>((1ull << (p.k - kk)) - 1);
    __m512bh wv[NR];
    for (int b = 0; b < NR; ++b)
      wv[b] = load_bf16x32(wr[b] + kk, mask, false);
    for (int a = 0; a < MR; ++a) {
      __m512bh xv = load_bf16x32(xr[a] + kk, mask, false);
      for (int b = 0; b < NR; ++b)
        acc[a][b] = _mm512_dpbf16_ps(acc[a][b], xv, wv[b]);
    }
  }
  if constexpr (MR == 4 && NR == 4) {
    // All sixteen sums at once, by the same tree reduce16 uses (lane 4a + b
    // holds y[i0 + a][j0 + b]).
    const __m512 sums = reduce16x16(reinterpret_cast<const __m512(&)[16]>(acc));
    _mm_storeu_ps(p.y + i0 * p.ldy + j0, _mm512_castps512_ps128(sums));
    _mm_storeu_ps(p.y + (i0 + 1) * p.ldy + j0, _mm512_extractf32x4_ps(sums, 1));
    _mm_storeu_ps(p.y + (i0 + 2) * p.ldy + j0, _mm512_extractf32x4_ps(sums, 2));
    _mm_storeu_ps(p.y + (i0 + 3) * p.ldy + j0, _mm512_extractf32x4_ps(sums, 3));
  } else {
    for (int a = 0; a < MR; ++a)
      for (int b = 0; b < NR; ++b)
        p.y[(i0 + a) * p.ldy + j0 + b] = reduce16(acc[a][b]);
  }
}

// Columns [j0, j1) for rows [i0, i0 + MR), NR columns per tile (MR = 1 has
// registers for eight weight rows in flight, which a lone row of x needs to
// keep memory busy).
template <int MR>
inline void row_block(const GemmParams& p, std::int64_t i0, std::int64_t j0, std::int64_t j1,
                      std::int64_t prefetch) {
  constexpr int kWide = MR == 1 ? 8 : 4;
  std::int64_t j = j0;
  for (; j + kWide <= j1; j += kWide)
    tile<MR, kWide>(p, i0, j, prefetch);
  for (; j + 4 <= j1; j += 4)
    tile<MR, 4>(p, i0, j, prefetch);
  switch (j1 - j) {
    case 3:
      tile<MR, 3>(p, i0, j, prefetch);
      break;
    case 2:
      tile<MR, 2>(p, i0, j, prefetch);
      break;
    case 1:
      tile<MR, 1>(p, i0, j, prefetch);
      break;
    default:
      break;
  }
}

}  // namespace

void gemm_bf16_avx512(const GemmParams& p, std::int64_t n_begin, std::int64_t n_end) {
  if (p.m == 1) {
    // A lone row of x (decode at batch 1) is bound by reading w once. One
    // weight row after another makes the task's reads a single sequential
    // stream, which the hardware prefetchers follow best: the 0.6B
    // projections streamed from memory at 62-68 GB/s (medians) this way
    // against 53-57 with eight rows interleaved and software prefetch, the
    // probe at 67-77 (docs/performance.md, 2026-11-29). The per-element
    // arithmetic is that of every other tile.
    for (std::int64_t j = n_begin; j < n_end; ++j)
      tile<1, 1>(p, 0, j, 0);
    return;
  }
  // Walk 16 weight rows at a time (they stay in L1/L2) across all rows of x;
  // the first pass over a block prefetches the next block's rows.
  constexpr std::int64_t kColumnBlock = 16;
  for (std::int64_t j0 = n_begin; j0 < n_end; j0 += kColumnBlock) {
    const std::int64_t j1 = std::min(n_end, j0 + kColumnBlock);
    const std::int64_t ahead = j1 < n_end ? kColumnBlock * p.ldw : 0;
    std::int64_t i = 0;
    for (; i + 4 <= p.m; i += 4)
      row_block<4>(p, i, j0, j1, i == 0 ? ahead : 0);
    switch (p.m - i) {
      case 3:
        row_block<3>(p, i, j0, j1, i == 0 ? ahead : 0);
        break;
      case 2:
        row_block<2>(p, i, j0, j1, i == 0 ? ahead : 0);
        break;
      case 1:
        row_block<1>(p, i, j0, j1, i == 0 ? ahead : 0);
        break;
      default:
        break;
    }
  }
}

}  // namespace pagoda::cpu
