// paged_attention's arithmetic in AVX-512 BF16 (this file is compiled with
// -mavx512f -mavx512bw -mavx512bf16 -mfma). It reproduces
// paged_attention_kernel.inc lane by lane: a row's scores are one vdpbf16ps
// chain per run of sixteen keys, the keys in the lanes (each pair of
// dimensions of the row broadcast against that pair of the run's keys, as the
// K cache stores them); the softmax runs with the keys in the lanes, a run at
// a time; the value update has head dimensions in the lanes and takes the
// keys two at a time, a broadcast pair of bf16 weights against the chunk's
// values laid out in key pairs.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers build results on _mm512_undefined_*(), which its
// own -Wuninitialized flags at every inlined use (a known GCC false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <limits>

#include "engine/cpu/avx512_bf16.h"
#include "engine/cpu/avx512_reduce.h"
#include "engine/cpu/paged_attention_tile.h"
#include "engine/cpu/softmax_exp.h"

namespace pagoda::cpu::avx512 {
namespace {

constexpr std::int64_t kChunk = kAttentionKeyChunk, kRun = kAttentionKeyRun, kRuns = kAttentionRunsPerChunk;
static_assert(kRun == 16, "the vector step keeps one run of keys in the lanes of one register");

// f32_to_bf16 on sixteen lanes (round to nearest even; the weights are never NaN).
inline __m256i round_to_bf16(__m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16));
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

// Value pairs and outputs keep vpunpck{l,h}wd's order: for each block of 32
// dimensions, the "low" vector's lane 4i + t holds dimension 8i + t and the
// "high" vector's lane 4i + t dimension 8i + 4 + t (i, t < 4). A row's o
// stores each block as [low 16 | high 16]; finish puts the dimensions back
// in order.
struct Avx512AttentionOps {
  static constexpr bool kValuesInPlace = true;

  static void interleave_values(const std::uint16_t* const (&rows)[kChunk], std::int64_t head_dim,
                                std::int64_t dim, std::int64_t num_keys, std::uint16_t* pairs) {
    for (std::int64_t jp = 0; jp < num_keys / 2; ++jp) {
      const std::uint16_t* r0 = rows[2 * jp];
      const std::uint16_t* r1 = rows[2 * jp + 1];
      for (std::int64_t d0 = 0; d0 < dim; d0 += 32) {
        const std::int64_t left = head_dim - d0;
        const __mmask32 mask = left >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << left) - 1);
        const __m512i a = r0 != nullptr ? _mm512_maskz_loadu_epi16(mask, r0 + d0) : _mm512_setzero_si512();
        const __m512i b = r1 != nullptr ? _mm512_maskz_loadu_epi16(mask, r1 + d0) : _mm512_setzero_si512();
        std::uint16_t* dst = pairs + (jp * dim + d0) * 2;
        _mm512_storeu_si512(dst, _mm512_unpacklo_epi16(a, b));
        _mm512_storeu_si512(dst + 32, _mm512_unpackhi_epi16(a, b));
      }
    }
  }

  // Keys 2jp and 2jp + 1, dimensions [d0, d0 + 32), as the low and high vectors
  // of value pairs. In place (dim == head_dim; the pair lies in one run), a
  // second key at or past `valid` is read as zero: the cache may hold NaN
  // there.
  template <bool kInPlace>
  [[gnu::always_inline]] static void value_pairs(const ChunkValues& v, std::int64_t dim, std::int64_t jp,
                                                 std::int64_t d0, std::int64_t valid, __m512bh& low,
                                                 __m512bh& high) {
    if constexpr (kInPlace) {
      const std::uint16_t* row = v.runs[2 * jp / kRun] + (2 * jp % kRun) * dim + d0;
      const __m512i a = _mm512_loadu_si512(row);
      const __m512i b = 2 * jp + 1 < valid ? _mm512_loadu_si512(row + dim) : _mm512_setzero_si512();
      low = as_bh(_mm512_unpacklo_epi16(a, b));
      high = as_bh(_mm512_unpackhi_epi16(a, b));
    } else {
      low = load_bf16x32(v.pairs + (jp * dim + d0) * 2);
      high = load_bf16x32(v.pairs + (jp * dim + d0) * 2 + 32);
    }
  }

  // One online-softmax step for every row that sees the chunk, in blocks of
  // kBlockRows rows and three phases per block: the rows' scores, run by run
  // (each load of a pair of dimensions of a run's 16 keys serves every row of
  // the block), their
  // softmax updates, their value products (two rows of a token share each
  // value load). Each row's arithmetic is the scalar step's whatever the
  // blocks, phases and pairs.
  static void step_rows(const ChunkRows& rows, std::int64_t dim, const ChunkKeys& k,
                        const ChunkValues& values, const ChunkAhead& ahead, float scale) {
    // With the row length known at compile time the value products keep a
    // row's outputs in registers, each pair of weights broadcast once.
    const bool in_place = values.pairs == nullptr;
    switch (dim) {
      case 128:
        return in_place ? step_rows_dim<128, true>(rows, dim, k, values, ahead, scale)
                        : step_rows_dim<128, false>(rows, dim, k, values, ahead, scale);
      case 64:
        return in_place ? step_rows_dim<64, true>(rows, dim, k, values, ahead, scale)
                        : step_rows_dim<64, false>(rows, dim, k, values, ahead, scale);
      default:
        return in_place ? step_rows_dim<0, true>(rows, dim, k, values, ahead, scale)
                        : step_rows_dim<0, false>(rows, dim, k, values, ahead, scale);
    }
  }

  static constexpr std::int64_t kBlockRows = 16;

  // kDim: the row length if fixed, else 0 (use dim_at_run_time). Two rows of
  // one token (two heads of its group) take their value products together
  // where kDim is fixed: each value pair is loaded once for both.
  template <std::int64_t kDim, bool kInPlace>
  static void step_rows_dim(const ChunkRows& rows, std::int64_t dim_at_run_time, const ChunkKeys& k,
                            const ChunkValues& values, const ChunkAhead& ahead, float scale) {
    const std::int64_t dim = kDim != 0 ? kDim : dim_at_run_time;
    const std::int64_t num_rows = rows.num_tokens * rows.group;
    alignas(64) float s[kBlockRows][kChunk];
    alignas(64) std::uint16_t pb[kBlockRows][kChunk];
    float alpha[kBlockRows];
    for (std::int64_t r0 = 0; r0 < num_rows; r0 += kBlockRows) {
      const std::int64_t n = std::min(kBlockRows, num_rows - r0);
      // Per row of the block: the keys its token sees, and whether the next
      // row belongs to the same token (then the two go together).
      std::int64_t valid[kBlockRows];
      bool pairs_with_next[kBlockRows];
      std::int64_t token = r0 / rows.group, head = r0 - token * rows.group;
      for (std::int64_t i = 0; i < n; ++i) {
        valid[i] = rows.valid[token];
        pairs_with_next[i] = i + 1 < n && head + 1 < rows.group;
        if (++head == rows.group) {
          head = 0;
          ++token;
        }
      }
      const auto q = [&](std::int64_t i) { return rows.q + (r0 + i) * dim; };
      const auto o = [&](std::int64_t i) { return rows.o + (r0 + i) * dim; };
      // Runs past the block's last row's keys (rows' keys rise with the row)
      // hold no key any of its rows sees: neither scored nor weighted.
      const std::int64_t num_runs = std::min(k.num_runs, (valid[n - 1] + kRun - 1) / kRun);
      // The first block asks for the next chunk: its K runs one line per
      // pair of dimensions as it scores, its V rows two keys' worth per pair
      // of keys as it weighs values.
      const bool asks = r0 == 0;
      for (std::int64_t run = 0; run < num_runs; ++run) {
        const std::uint16_t* ahead_k = asks ? ahead.k_runs[run] : nullptr;
        score_rows(q(0), dim, n, k.runs[run], k.pair_stride, k.num_pairs, scale, valid, run, s, ahead_k,
                   ahead.k_pair_stride);
      }
      // Runs this block does not score are still the next chunk's to ask for.
      for (std::int64_t run = num_runs; asks && run < kRuns && ahead.k_runs[run] != nullptr; ++run) {
        for (std::int64_t pair = 0; pair < k.num_pairs; ++pair)
          __builtin_prefetch(ahead.k_runs[run] + pair * ahead.k_pair_stride);
      }
      const std::uint16_t* const* ahead_v = asks ? ahead.v_rows : nullptr;
      for (std::int64_t i = 0; i < n; ++i)
        alpha[i] = softmax_row(s[i], valid[i], num_runs, rows.m + r0 + i, rows.l + (r0 + i) * kRun, pb[i]);
      for (std::int64_t i = 0; i < n;) {
        const bool ask = i == 0 && ahead_v != nullptr;
        if constexpr (kDim != 0) {
          if (pairs_with_next[i]) {
            if (ask) {
              accumulate_values_pair<kDim, kInPlace, true>(pb[i], pb[i + 1], values, alpha[i], alpha[i + 1],
                                                           valid[i], o(i), o(i + 1), ahead_v);
            } else {
              accumulate_values_pair<kDim, kInPlace, false>(pb[i], pb[i + 1], values, alpha[i], alpha[i + 1],
                                                            valid[i], o(i), o(i + 1), nullptr);
            }
            i += 2;
            continue;
          }
        }
        if (ask) {
          accumulate_values<kDim, kInPlace, true>(pb[i], values, alpha[i], dim, valid[i], o(i), ahead_v);
        } else {
          accumulate_values<kDim, kInPlace, false>(pb[i], values, alpha[i], dim, valid[i], o(i), nullptr);
        }
        ++i;
      }
      // Rows the first row's keys did not reach: asked for here.
      if (ahead_v != nullptr) {
        for (std::int64_t j = valid[0] + valid[0] % 2; j < kChunk && ahead_v[j] != nullptr; ++j)
          ask_row(ahead_v[j], dim);
      }
    }
  }

  // One run's scores of query rows q [n][dim_q] (n <= kBlockRows) into
  // s[n][run * kRun, +kRun): lane j of row r's accumulator is key
  // run * kRun + j's sum over the pairs of dimensions, one vdpbf16ps each (the
  // run's pair against the row's pair broadcast), then scale times it, -inf
  // at and past valid[r]. Asks for one line a pair at `ahead` (nullptr: none),
  // ahead_stride elements apart.
  static void score_rows(const std::uint16_t* q, std::int64_t dim_q, std::int64_t n,
                         const std::uint16_t* keys, std::int64_t pair_stride, std::int64_t num_pairs,
                         float scale, const std::int64_t* valid, std::int64_t run, float (*s)[kChunk],
                         const std::uint16_t* ahead, std::int64_t ahead_stride) {
    if (ahead != nullptr)
      return score_rows_asking<true>(q, dim_q, n, keys, pair_stride, num_pairs, scale, valid, run, s, ahead,
                                     ahead_stride);
    return score_rows_asking<false>(q, dim_q, n, keys, pair_stride, num_pairs, scale, valid, run, s, nullptr,
                                    0);
  }

  template <bool kAsk>
  static void score_rows_asking(const std::uint16_t* q, std::int64_t dim_q, std::int64_t n,
                                const std::uint16_t* keys, std::int64_t pair_stride, std::int64_t num_pairs,
                                float scale, const std::int64_t* valid, std::int64_t run, float (*s)[kChunk],
                                const std::uint16_t* ahead, std::int64_t ahead_stride) {
    switch (n) {
#define PAGODA_SCORE_ROWS_CASE(N)                                                                     \
  case N:                                                                                             \
    return score_rows_n<N, kAsk>(q, dim_q, keys, pair_stride, num_pairs, scale, valid, run, s, ahead, \
                                 ahead_stride);
      PAGODA_SCORE_ROWS_CASE(1)
      PAGODA_SCORE_ROWS_CASE(2)
      PAGODA_SCORE_ROWS_CASE(3)
      PAGODA_SCORE_ROWS_CASE(4)
      PAGODA_SCORE_ROWS_CASE(5)
      PAGODA_SCORE_ROWS_CASE(6)
      PAGODA_SCORE_ROWS_CASE(7)
      PAGODA_SCORE_ROWS_CASE(8)
      PAGODA_SCORE_ROWS_CASE(9)
      PAGODA_SCORE_ROWS_CASE(10)
      PAGODA_SCORE_ROWS_CASE(11)
      PAGODA_SCORE_ROWS_CASE(12)
      PAGODA_SCORE_ROWS_CASE(13)
      PAGODA_SCORE_ROWS_CASE(14)
      PAGODA_SCORE_ROWS_CASE(15)
#undef PAGODA_SCORE_ROWS_CASE
      default:
        return score_rows_n<16, kAsk>(q, dim_q, keys, pair_stride, num_pairs, scale, valid, run, s, ahead,
                                      ahead_stride);
    }
  }

  template <int kRows, bool kAsk>
  static void score_rows_n(const std::uint16_t* q, std::int64_t dim_q, const std::uint16_t* keys,
                           std::int64_t pair_stride, std::int64_t num_pairs, float scale,
                           const std::int64_t* valid, std::int64_t run, float (*s)[kChunk],
                           const std::uint16_t* ahead, std::int64_t ahead_stride) {
    __m512 acc[kRows];
    for (auto& a : acc)
      a = _mm512_setzero_ps();
    const std::uint16_t* kp = keys;
#pragma GCC unroll 4
    for (std::int64_t pair = 0; pair < num_pairs; ++pair, kp += pair_stride) {
      if constexpr (kAsk) __builtin_prefetch(ahead + pair * ahead_stride);
      const __m512bh kv = load_bf16x32(kp);
      for (int r = 0; r < kRows; ++r)
        acc[r] = _mm512_dpbf16_ps(acc[r], kv, broadcast_pair(q + r * dim_q + 2 * pair));
    }
    for (int r = 0; r < kRows; ++r) {
      const std::int64_t seen_keys = std::clamp<std::int64_t>(valid[r] - run * kRun, 0, kRun);
      const __mmask16 seen = static_cast<__mmask16>((1u << seen_keys) - 1);
      _mm512_store_ps(s[r] + run * kRun,
                      _mm512_mask_mov_ps(_mm512_set1_ps(-std::numeric_limits<float>::infinity()), seen,
                                         _mm512_mul_ps(acc[r], _mm512_set1_ps(scale))));
    }
  }

  // From a row's chunk scores s (score_rows', runs [0, num_runs); the row
  // sees none of the later runs' keys): the online-softmax update of m and l
  // (lane i: rescaled with key i's weight in one fused multiply-add, then
  // the weights of keys i + 16, i + 32, ... added in order), the weights
  // rounded to bf16 into pb; returns the factor alpha that rescales the row's
  // outputs.
  [[gnu::always_inline]] static float softmax_row(const float* s_row, std::int64_t valid,
                                                  std::int64_t num_runs, float* m, float* l,
                                                  std::uint16_t* pb) {
    __m512 top = _mm512_load_ps(s_row);
    for (std::int64_t run = 1; run < num_runs; ++run)
      top = _mm512_max_ps(top, _mm512_load_ps(s_row + run * kRun));
    const float m_new = std::max(*m, _mm512_reduce_max_ps(top));
    const float alpha = softmax_exp(*m - m_new);
    const __m512 shift = _mm512_set1_ps(m_new);
    __m512 lanes = _mm512_loadu_ps(l);
    for (std::int64_t run = 0; run < num_runs; ++run) {
      const std::int64_t seen_keys = std::clamp<std::int64_t>(valid - run * kRun, 0, kRun);
      const __mmask16 seen = static_cast<__mmask16>((1u << seen_keys) - 1);
      const __m512 pj =
          _mm512_maskz_mov_ps(seen, softmax_exp16(_mm512_sub_ps(_mm512_load_ps(s_row + run * kRun), shift)));
      lanes = run == 0 ? _mm512_fmadd_ps(lanes, _mm512_set1_ps(alpha), pj) : _mm512_add_ps(lanes, pj);
      _mm256_store_si256(reinterpret_cast<__m256i*>(pb + run * kRun), round_to_bf16(pj));
    }
    _mm512_storeu_ps(l, lanes);
    *m = m_new;
    return alpha;
  }

  // Asks for the lines of one V row of dim elements.
  [[gnu::always_inline]] static void ask_row(const std::uint16_t* row, std::int64_t dim) {
    for (std::int64_t e = 0; e < dim; e += kLineElements)
      __builtin_prefetch(row + e);
  }

  // Asks for the V rows of keys 2jp and 2jp + 1 of `ahead` (if kAsk).
  template <bool kAsk>
  [[gnu::always_inline]] static void ask_pair(const std::uint16_t* const* ahead, std::int64_t jp,
                                              std::int64_t dim) {
    if constexpr (kAsk) {
      for (std::int64_t e = 0; e < 2; ++e) {
        if (ahead[2 * jp + e] != nullptr) ask_row(ahead[2 * jp + e], dim);
      }
    }
  }

  // o = o * alpha, then for each pair of keys (2jp, 2jp + 1) with 2jp < valid,
  // in order: o += the pair's weights times its values. Asks for the V rows
  // of the same keys of `ahead` meanwhile.
  template <std::int64_t kDim, bool kInPlace, bool kAsk>
  static void accumulate_values(const std::uint16_t* pb, const ChunkValues& values, float alpha,
                                std::int64_t dim_at_run_time, std::int64_t valid, float* o,
                                const std::uint16_t* const* ahead) {
    if constexpr (kDim != 0) {
      // The whole row in registers: each pair of weights is broadcast once.
      constexpr std::int64_t kBlocks = kDim / 16;
      __m512 ov[kBlocks];
      for (std::int64_t b = 0; b < kBlocks; ++b)
        ov[b] = _mm512_mul_ps(_mm512_loadu_ps(o + 16 * b), _mm512_set1_ps(alpha));
      for (std::int64_t jp = 0; 2 * jp < valid; ++jp) {
        ask_pair<kAsk>(ahead, jp, kDim);
        const __m512bh w = broadcast_pair(pb + 2 * jp);
        for (std::int64_t b = 0; b < kBlocks; b += 2) {
          __m512bh low, high;
          value_pairs<kInPlace>(values, kDim, jp, 16 * b, valid, low, high);
          ov[b] = _mm512_dpbf16_ps(ov[b], w, low);
          ov[b + 1] = _mm512_dpbf16_ps(ov[b + 1], w, high);
        }
      }
      for (std::int64_t b = 0; b < kBlocks; ++b)
        _mm512_storeu_ps(o + 16 * b, ov[b]);
      return;
    }
    const std::int64_t dim = dim_at_run_time;
    for (std::int64_t jp = 0; 2 * jp < valid; ++jp)
      ask_pair<kAsk>(ahead, jp, dim);
    for (std::int64_t d0 = 0; d0 < dim; d0 += 32) {
      __m512 lo = _mm512_mul_ps(_mm512_loadu_ps(o + d0), _mm512_set1_ps(alpha));
      __m512 hi = _mm512_mul_ps(_mm512_loadu_ps(o + d0 + 16), _mm512_set1_ps(alpha));
      for (std::int64_t jp = 0; 2 * jp < valid; ++jp) {
        const __m512bh w = broadcast_pair(pb + 2 * jp);
        __m512bh low, high;
        value_pairs<kInPlace>(values, dim, jp, d0, valid, low, high);
        lo = _mm512_dpbf16_ps(lo, w, low);
        hi = _mm512_dpbf16_ps(hi, w, high);
      }
      _mm512_storeu_ps(o + d0, lo);
      _mm512_storeu_ps(o + d0 + 16, hi);
    }
  }

  // accumulate_values for two rows that see the same keys: each value pair is
  // loaded once for both.
  template <std::int64_t kDim, bool kInPlace, bool kAsk>
  static void accumulate_values_pair(const std::uint16_t* pb0, const std::uint16_t* pb1,
                                     const ChunkValues& values, float alpha0, float alpha1,
                                     std::int64_t valid, float* o0, float* o1,
                                     const std::uint16_t* const* ahead) {
    constexpr std::int64_t kBlocks = kDim / 16;
    __m512 ov0[kBlocks], ov1[kBlocks];
    for (std::int64_t b = 0; b < kBlocks; ++b) {
      ov0[b] = _mm512_mul_ps(_mm512_loadu_ps(o0 + 16 * b), _mm512_set1_ps(alpha0));
      ov1[b] = _mm512_mul_ps(_mm512_loadu_ps(o1 + 16 * b), _mm512_set1_ps(alpha1));
    }
    for (std::int64_t jp = 0; 2 * jp < valid; ++jp) {
      ask_pair<kAsk>(ahead, jp, kDim);
      const __m512bh w0 = broadcast_pair(pb0 + 2 * jp), w1 = broadcast_pair(pb1 + 2 * jp);
      for (std::int64_t b = 0; b < kBlocks; b += 2) {
        __m512bh low, high;
        value_pairs<kInPlace>(values, kDim, jp, 16 * b, valid, low, high);
        ov0[b] = _mm512_dpbf16_ps(ov0[b], w0, low);
        ov0[b + 1] = _mm512_dpbf16_ps(ov0[b + 1], w0, high);
        ov1[b] = _mm512_dpbf16_ps(ov1[b], w1, low);
        ov1[b + 1] = _mm512_dpbf16_ps(ov1[b + 1], w1, high);
      }
    }
    for (std::int64_t b = 0; b < kBlocks; ++b) {
      _mm512_storeu_ps(o0 + 16 * b, ov0[b]);
      _mm512_storeu_ps(o1 + 16 * b, ov1[b]);
    }
  }

  // out = o / (the sum of l), with each block's dimensions put back in order.
  static void finish(const float* l, const float* o, std::int64_t head_dim, float* out) {
    const __m512 inv = _mm512_set1_ps(1.0f / reduce16(_mm512_loadu_ps(l)));
    const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    for (std::int64_t d0 = 0; d0 < head_dim; d0 += 32) {
      const __m512 low = _mm512_mul_ps(_mm512_loadu_ps(o + d0), inv);
      const __m512 high = _mm512_mul_ps(_mm512_loadu_ps(o + d0 + 16), inv);
      for (std::int64_t half = 0; half < 2 && d0 + 16 * half < head_dim; ++half) {
        const std::int64_t left = head_dim - d0 - 16 * half;
        const __mmask16 mask =
            left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
        _mm512_mask_storeu_ps(out + d0 + 16 * half, mask,
                              _mm512_permutex2var_ps(low, half == 0 ? first : second, high));
      }
    }
  }
};

}  // namespace

void attend_tile(const PagedAttentionParams& p, const AttentionTile& tile, std::int64_t kv_head) {
  attend_tile_with<Avx512AttentionOps>(p, tile, kv_head);
}

}  // namespace pagoda::cpu::avx512
