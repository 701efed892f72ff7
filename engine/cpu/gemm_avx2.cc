// AVX2 path of gemm_bf16 (compiled with -mavx2 -mfma). A tile is MR rows of x
// times Q quarters of a packed panel (16 output columns each): per pair of k,
// 32-byte loads of the panel are split into the pair's even and odd values
// widened to f32, and each row's broadcast pair meets them in two FMAs, the
// even value first. A bf16 x bf16 product is exact in f32, so every output
// element is computed exactly as gemm_bf16_scalar computes it.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/cpu/gemm.h"

namespace pagoda::cpu {
namespace {

constexpr std::int64_t kQuarter = 16;  // output columns per tile

// The even (low) and odd (high) bf16 halves of eight 32-bit lanes, as f32.
inline __m256 even_f32(__m256i v) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
inline __m256 odd_f32(__m256i v) {
  return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

// acc[a] += row a's pair `two` (even value in the low half) times the pair's
// 16 * Q columns at wq, the even product first.
template <int MR, int Q>
inline void accumulate_pair(__m256 (&acc)[MR][2 * Q], const std::uint16_t* wq,
                            const std::int32_t (&two)[MR]) {
  __m256 we[2 * Q], wo[2 * Q];
  for (int b = 0; b < 2 * Q; ++b) {
    const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(wq + 16 * b));
    we[b] = even_f32(w);
    wo[b] = odd_f32(w);
  }
  for (int a = 0; a < MR; ++a) {
    const __m256i xv = _mm256_set1_epi32(two[a]);
    const __m256 xe = even_f32(xv), xo = odd_f32(xv);
    for (int b = 0; b < 2 * Q; ++b)
      acc[a][b] = _mm256_fmadd_ps(xo, wo[b], _mm256_fmadd_ps(xe, we[b], acc[a][b]));
  }
}

// Rows [i0, i0 + MR) x quarters [quarter, quarter + Q) of `panel`.
template <int MR, int Q>
inline void tile(const GemmParams& p, std::int64_t i0, std::int64_t panel, std::int64_t quarter) {
  const PackedMatrix& w = p.w;
  const std::uint16_t* wp = w.data + panel * w.panel_stride() + quarter * kQuarter * 2;
  constexpr std::int64_t kPairElems = PackedMatrix::kPanelRows * 2;
  __m256 acc[MR][2 * Q];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < 2 * Q; ++b)
      acc[a][b] = _mm256_setzero_ps();
  const std::int64_t full_pairs = w.k / 2;
  std::int32_t two[MR];
  for (std::int64_t pair = 0; pair < full_pairs; ++pair) {
    for (int a = 0; a < MR; ++a)
      std::memcpy(&two[a], p.x + (i0 + a) * p.ldx + 2 * pair, sizeof(two[a]));
    accumulate_pair<MR, Q>(acc, wp + pair * kPairElems, two);
  }
  if (full_pairs < w.num_pairs()) {  // odd k: the last pair holds one value (its partner is zero)
    for (int a = 0; a < MR; ++a)
      two[a] = p.x[(i0 + a) * p.ldx + w.k - 1];
    accumulate_pair<MR, Q>(acc, wp + full_pairs * kPairElems, two);
  }
  const std::int64_t col0 = panel * PackedMatrix::kPanelRows + quarter * kQuarter;
  for (int b = 0; b < 2 * Q; ++b) {
    const std::int64_t col = col0 + 8 * b;
    if (col >= w.n) break;
    const std::int64_t lanes = std::min<std::int64_t>(8, w.n - col);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lanes)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int a = 0; a < MR; ++a)
      _mm256_maskstore_ps(p.y + (i0 + a) * p.ldy + col, mask, acc[a][b]);
  }
}

}  // namespace

void gemm_bf16_avx2(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end) {
  // Three rows by a quarter panel: 6 accumulators, 4 weight vectors and the
  // broadcasts in 16 registers. A lone row takes the whole panel instead:
  // each accumulator's two dependent FMAs per pair would otherwise leave the
  // FMA units waiting (a quarter at a time, m = 1 ran at 62 GFLOP/s here; the
  // whole panel gives eight independent chains).
  constexpr std::int64_t kRows = 3;
  constexpr std::int64_t kQuarters = PackedMatrix::kPanelRows / kQuarter;
  for (std::int64_t panel = panel_begin; panel < panel_end; ++panel) {
    std::int64_t i = 0;
    for (; i + kRows <= p.m; i += kRows) {
      for (std::int64_t quarter = 0; quarter < kQuarters; ++quarter) {
        if (panel * PackedMatrix::kPanelRows + quarter * kQuarter >= p.w.n) break;
        tile<kRows, 1>(p, i, panel, quarter);
      }
    }
    for (; i < p.m; ++i)
      tile<1, kQuarters>(p, i, panel, 0);
  }
}

}  // namespace pagoda::cpu
