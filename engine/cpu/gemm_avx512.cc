// AVX-512 BF16 path of gemm_bf16 (this file is compiled with -mavx512bf16).
// A tile is MR rows of x times one packed panel of w (64 output columns, four
// 16-lane accumulators per row). For each pair of k, four 64-byte loads of
// the panel meet one broadcast pair of x per row in vdpbf16ps: the weights
// come once per tile from L2 (a panel stays there while every row block of x
// passes it) and x only as 4-byte broadcasts, so the loop is bound by the two
// FMA pipes rather than by loads. Every output element is one accumulator
// lane fed in ascending pair order, whatever MR is: the batch invariance of
// gemm.h.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers build results on _mm512_undefined_*(), which its
// own -Wuninitialized flags at every inlined use (a known GCC false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>

#include "engine/cpu/avx512_bf16.h"
#include "engine/cpu/gemm.h"

namespace pagoda::cpu {
namespace {

constexpr int kVectors = PackedMatrix::kPanelRows / 16;  // accumulators per row of a tile

// Lines of a panel a tile asks for ahead (see panel_ahead): at each pair of
// k, the lines first + pair * per .. + per - 1 that are below end.
struct PanelAhead {
  const char* base = nullptr;  // the panel's first byte; nullptr: none
  std::int64_t first = 0;      // line index (64 bytes each)
  std::int64_t per = 0;        // lines per pair
  std::int64_t end = 0;
};

// y[i0 .. i0 + MR) x the 64 columns of `panel`.
template <int MR>
inline void tile(const GemmParams& p, std::int64_t i0, std::int64_t panel, const PanelAhead& ahead = {}) {
  const PackedMatrix& w = p.w;
  const std::uint16_t* wp = w.data + panel * w.panel_stride();
  const std::uint16_t* xr[MR];
  for (int a = 0; a < MR; ++a)
    xr[a] = p.x + (i0 + a) * p.ldx;
  __m512 acc[MR][kVectors];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < kVectors; ++b)
      acc[a][b] = _mm512_setzero_ps();
  const std::int64_t full_pairs = w.k / 2;
  const char* ahead_line = ahead.base != nullptr ? ahead.base + ahead.first * 64 : nullptr;
  const char* ahead_end = ahead.base != nullptr ? ahead.base + ahead.end * 64 : nullptr;
  for (std::int64_t pair = 0; pair < full_pairs; ++pair) {
    for (std::int64_t l = 0; l < ahead.per && ahead_line < ahead_end; ++l, ahead_line += 64)
      __builtin_prefetch(ahead_line);
    const std::uint16_t* wq = wp + pair * PackedMatrix::kPanelRows * 2;
    __m512bh wv[kVectors];
    for (int b = 0; b < kVectors; ++b)
      wv[b] = as_bh(_mm512_load_si512(wq + 32 * b));
    for (int a = 0; a < MR; ++a) {
      const __m512bh xv = broadcast_pair(xr[a] + 2 * pair);
      for (int b = 0; b < kVectors; ++b)
        acc[a][b] = _mm512_dpbf16_ps(acc[a][b], xv, wv[b]);
    }
  }
  if (full_pairs < w.num_pairs()) {  // odd k: the last pair holds one value (its partner is zero)
    const std::uint16_t* wq = wp + full_pairs * PackedMatrix::kPanelRows * 2;
    __m512bh wv[kVectors];
    for (int b = 0; b < kVectors; ++b)
      wv[b] = as_bh(_mm512_load_si512(wq + 32 * b));
    for (int a = 0; a < MR; ++a) {
      const __m512bh xv = as_bh(_mm512_set1_epi32(xr[a][w.k - 1]));
      for (int b = 0; b < kVectors; ++b)
        acc[a][b] = _mm512_dpbf16_ps(acc[a][b], xv, wv[b]);
    }
  }
  const std::int64_t col0 = panel * PackedMatrix::kPanelRows;
  for (int b = 0; b < kVectors; ++b) {
    const std::int64_t col = col0 + 16 * b;
    if (col >= w.n) break;
    const __mmask16 mask =
        col + 16 <= w.n ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (w.n - col)) - 1);
    for (int a = 0; a < MR; ++a)
      _mm512_mask_storeu_ps(p.y + (i0 + a) * p.ldy + col, mask, acc[a][b]);
  }
}

constexpr std::int64_t kRows = 6;            // rows of x in a full block
constexpr std::int64_t kOwnAheadPairs = 16;  // how far ahead a first block asks for its own panel

// What the full block `block` (0-based, six rows each) of `panel` asks for
// ahead. One panel at a time across all rows of x, the first block reads the
// panel from memory and the others from L2, with no memory traffic under
// their arithmetic: so blocks after the first ask for the next panel's lines
// (also past the task's end: a thread's tasks are consecutive), one per pair
// of k — a panel is four lines per pair, so four such blocks fetch all of it
// and the next panel's first block finds it in cache. Where fewer than four
// do (m < 30), the first block asks for its own panel's lines kOwnAheadPairs
// pairs ahead: more reads in flight than its loads alone keep. Measured
// (docs/performance.md): decode batch 24-32 +16-19 %, 8 and 16 +2-10 %;
// asking faster — the whole next panel from a short last block, or a block
// of two rows asking ahead for its own — made batch 8 and batch 2 slower.
PanelAhead panel_ahead(const PackedMatrix& w, std::int64_t panel, std::int64_t block, std::int64_t m) {
  const std::int64_t lines = (w.panel_stride() * static_cast<std::int64_t>(sizeof(std::uint16_t)) + 63) / 64;
  const auto start = [&](std::int64_t p) {
    return reinterpret_cast<const char*>(w.data + p * w.panel_stride());
  };
  if (block > 0 && panel + 1 < w.num_panels())
    return {start(panel + 1), (block - 1) * w.num_pairs(), 1, lines};
  if (block == 0 && m < 5 * kRows) return {start(panel), kOwnAheadPairs * 4, 4, lines};
  return {};
}

}  // namespace

void gemm_bf16_avx512(const GemmParams& p, std::int64_t panel_begin, std::int64_t panel_end) {
  // Six rows a tile: 24 accumulators, four panel vectors and a broadcast fill
  // 29 of the 32 registers. One panel at a time across all rows of x, so the
  // panel is read from memory once and from L2 for the other row blocks.
  for (std::int64_t panel = panel_begin; panel < panel_end; ++panel) {
    std::int64_t i = 0, block = 0;
    for (; i + kRows <= p.m; i += kRows, ++block)
      tile<kRows>(p, i, panel, panel_ahead(p.w, panel, block, p.m));
    switch (p.m - i) {
      case 5:
        tile<5>(p, i, panel);
        break;
      case 4:
        tile<4>(p, i, panel);
        break;
      case 3:
        tile<3>(p, i, panel);
        break;
      case 2:
        tile<2>(p, i, panel);
        break;
      case 1:
        tile<1>(p, i, panel);
        break;
      default:
        break;
    }
  }
}

}  // namespace pagoda::cpu
