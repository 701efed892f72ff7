// Sampling one row of logits the way the host Sampler does, written once for
// two kinds of "block": a CUDA thread block (sample_kernel.cu, one block per
// row) and SerialBlock (one host thread), which the CPU tests run against the
// host Sampler. Header only, no CUDA headers: host code includes it too
// (device code's float4 comes from nvcc or the emulator).
//
// The host Sampler sorts candidates; a block cannot sort a 152k vocabulary per
// row cheaply, so every cut of the order (top_k, top_p, min_p, the draw) is
// found by radix descent over an order-preserving 32-bit key of the processed
// logit: four passes of a 256-bucket histogram of counts or of weights. The
// order is the Sampler's (higher logit first, equal logits by lower id), so a
// cut is "every element with key > `key`, then the first `ties` elements with
// key == `key` in id order". Weights exp(logit - max) are summed as 2^-40
// fixed-point integers, so sums do not depend on the order threads add them:
// results are deterministic, and equal the Sampler's except where a draw or a
// top_p mass lands within ~1e-7 of a boundary (the Sampler sums doubles in
// sorted order).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cuda/host_device.h"
#include "cuda/row_edits.h"

namespace pagoda::cuda {

constexpr int kSampleMaxTopLogprobs = 20;

// One sampled row. Plain values: filled on the host, copied to the device.
struct SampleRowParams {
  std::int64_t logits_row = 0;   // row of the logits matrix this samples
  double uniform = 0.0;          // Sampler::uniform(seed, output position), [0, 1)
  double top_p = 1.0;            // 1: off
  double min_p = 0.0;            // 0: off
  float inv_temperature = 1.0f;  // float(1 / temperature); 1 when greedy
  std::int32_t greedy = 0;
  std::int32_t top_k = 0;          // 0: off, else 0 < top_k < vocab
  std::int32_t num_logprobs = -1;  // -1: none; else the chosen token's and this many alternatives (<= 20)
  std::int32_t edit_begin = 0;     // [edit_begin, edit_end) of the step's edits
  std::int32_t edit_end = 0;
  RowPenalties penalties;
};

struct SampleRowOutput {
  std::int32_t token = 0;
  float logprob = 0.0f;  // of the raw distribution (before penalties and temperature)
  std::int32_t num_top = 0;
  std::int32_t top_ids[kSampleMaxTopLogprobs] = {};
  float top_logprobs[kSampleMaxTopLogprobs] = {};
};

// Higher logit first; -0 and +0 equal; NaN after everything.
PAGODA_HD inline std::uint32_t order_key(float x) {
  if (x != x) return 0;
  if (x == 0.0f) x = 0.0f;
  std::uint32_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  return (b & 0x80000000u) != 0 ? ~b : (b | 0x80000000u);
}

PAGODA_HD inline float key_value(std::uint32_t key) {
  const std::uint32_t b = (key & 0x80000000u) != 0 ? (key & 0x7fffffffu) : ~key;
  float x = 0.0f;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// Below this, exp(logit - max) * 2^40 < 1 (40 ln 2 = 27.7259), so the weight
// is 0 without computing exp (in double, most of a weighing pass's work).
// A trained model's logits often span more than that below the top, so at
// temperatures up to about 1 this can skip most of a row; not measured.
constexpr double kZeroWeightBelow = -27.75;

// exp(logit - max) in units of 2^-40 (so a row of up to 2^23 tokens sums below 2^64).
PAGODA_HD inline std::uint64_t fixed_weight(float logit, double max_logit) {
  const double x = static_cast<double>(logit) - max_logit;
  if (!(x >= kZeroWeightBelow)) return 0;
  const double w = exp(x) * 0x1.0p40;
  return w >= 1.0 ? static_cast<std::uint64_t>(w) : 0;
}

// A prefix of the order: elements with key > `key`, then `ties` of those with
// key == `key` (lowest ids first). ties == 0: no cut was found. `weight`: the
// prefix's total fixed_weight, when the search that found it knew it
// (`weighed`), so no pass over the row has to add it up again.
struct SampleCut {
  std::uint32_t key = 0;
  std::uint64_t ties = 0;
  std::uint64_t weight = 0;
  bool weighed = false;
};

PAGODA_HD inline bool cut_before(const SampleCut& a, const SampleCut& b) {
  return a.key > b.key || (a.key == b.key && a.ties < b.ties);
}

// The best element strictly after (after_v, after_i) in the order (the first
// when after_i < 0).
struct SampleBest {
  float v = -INFINITY;
  std::int32_t i = -1;
};

PAGODA_HD inline bool sample_better(float av, std::int32_t ai, float bv, std::int32_t bi) {
  if (ai < 0) return false;
  if (bi < 0) return true;
  return av > bv || (av == bv && ai < bi);
}

// best becomes (v, id) where that is better; NaN never is.
PAGODA_HD inline void keep_better(SampleBest& best, float v, std::int32_t id) {
  if (v == v && sample_better(v, id, best.v, best.i)) {
    best.v = v;
    best.i = id;
  }
}

// The block interface sample_row needs. Collectives (sum_*, max_f32, min_u32,
// best, exclusive_scan_u64, hist_*, sync) are called by every thread of the
// block in the same order and return the same value to all of them.
// hist_add(in, digit, w, weighted) adds one element of weight w (1 unless
// `weighted`) to bucket `digit` when `in`; every thread calls it equally
// often, with the same `weighted` (a CUDA block's adds are warp
// collectives). hist_save keeps a copy of the histogram that hist_restore
// brings back. clear_word, add_word and or_word (which returns the word
// before) are atomic on one 32-bit word of global memory (row_edits.h's
// counts). SerialBlock: one host thread is the whole block.
struct SerialBlock {
  int tid() const { return 0; }
  int num_threads() const { return 1; }
  void sync() {}
  std::uint64_t sum_u64(std::uint64_t v) { return v; }
  double sum_f64(double v) { return v; }
  float max_f32(float v) { return v; }
  std::uint32_t min_u32(std::uint32_t v) { return v; }
  SampleBest best(SampleBest b) { return b; }
  std::uint64_t exclusive_scan_u64(std::uint64_t) { return 0; }
  void hist_clear() {
    for (int d = 0; d < 256; ++d)
      count[d] = mass[d] = 0;
  }
  void hist_add(bool in, int digit, std::uint64_t w, bool /*weighted*/) {
    if (!in) return;
    count[digit] += 1;
    mass[digit] += w;
  }
  std::uint64_t hist_count(int digit) const { return count[digit]; }
  std::uint64_t hist_mass(int digit) const { return mass[digit]; }
  void hist_save() {
    for (int d = 0; d < 256; ++d) {
      saved_count[d] = count[d];
      saved_mass[d] = mass[d];
    }
  }
  void hist_restore() {
    for (int d = 0; d < 256; ++d) {
      count[d] = saved_count[d];
      mass[d] = saved_mass[d];
    }
  }

  void clear_word(std::uint32_t* w) { *w = 0; }
  void add_word(std::uint32_t* w, std::uint32_t v) { *w += v; }
  std::uint32_t or_word(std::uint32_t* w, std::uint32_t bits) {
    const std::uint32_t old = *w;
    *w |= bits;
    return old;
  }

  std::uint64_t count[256] = {};
  std::uint64_t mass[256] = {};
  std::uint64_t saved_count[256] = {};
  std::uint64_t saved_mass[256] = {};
};

// What one row's sampling works on: the raw logits (for logprobs), the
// processed ones (edits applied, times inv_temperature), and two ways of
// sharing the vocabulary among the block's threads. The passes in id order
// (cut_token, draw_in_id_order) take this thread's contiguous share [begin,
// end); every other pass takes elements first, first + stride, ... (stride =
// the block's threads), so that a warp's loads are consecutive. Either way a
// thread has at most `chunk` elements.
struct SampleRowView {
  const float* raw = nullptr;
  const float* p = nullptr;
  std::int64_t vocab = 0;
  std::int64_t begin = 0, end = 0;
  std::int64_t first = 0, stride = 1;
  std::int64_t chunk = 0;
  double max_p = 0.0;
};

// f(i, x[i]) for i in [begin, end), in order. On the device (and its
// emulator) a share starting 16-byte aligned is read 16 bytes at a time: a
// thread's contiguous share puts each lane of a warp on its own cache line,
// and one 16-byte load per line instead of four cuts the L1 lookups of a
// pass in id order by as much. sample_row makes shares multiples of 4.
template <class F>
PAGODA_HD void for_each_in_share(const float* x, std::int64_t begin, std::int64_t end, F&& f) {
  std::int64_t i = begin;
#if defined(__CUDA_ARCH__) || defined(PAGODA_SIMT)
  if (reinterpret_cast<std::uintptr_t>(x + i) % 16 == 0) {
    for (; i + 4 <= end; i += 4) {
      const float4 v = *reinterpret_cast<const float4*>(x + i);
      f(i, v.x);
      f(i + 1, v.y);
      f(i + 2, v.z);
      f(i + 3, v.w);
    }
  }
#endif
  for (; i < end; ++i)
    f(i, x[i]);
}

// The shortest prefix whose weight (fixed_weight, or 1 each when !by_mass)
// reaches `target`: cumulative >= target, or > target when `strict`.
// ties == 0 when the whole row does not reach it. With `fraction` >= 0 (by
// mass), the target is instead ceil(fraction * the row's weight), which the
// first histogram adds up on the way (one pass over the row fewer).
// The first level's histogram by mass is the same for every cut of a row: the
// first such search saves it (`*mass_level0_saved` false -> true) and later
// ones restore it instead of making that pass again.
template <class Block>
PAGODA_HD SampleCut find_cut(Block& b, const SampleRowView& r, bool by_mass, std::uint64_t target,
                             bool strict, bool* mass_level0_saved, double fraction = -1.0) {
  auto reaches = [&](std::uint64_t cum) { return strict ? cum > target : cum >= target; };
  const std::int64_t per_thread = (r.vocab + r.stride - 1) / r.stride;  // the same on every thread
  std::uint32_t prefix = 0;
  std::uint64_t above = 0;  // weight of the elements before the buckets still in play
  std::uint64_t last_count = 0;
  for (int level = 0; level < 4; ++level) {
    const int shift = 24 - 8 * level;
    const bool reuse = level == 0 && by_mass && *mass_level0_saved;
    if (reuse) {
      b.hist_restore();
    } else {
      b.hist_clear();
      // per_thread adds on every thread, `in` for its elements under the
      // prefix found so far.
      for (std::int64_t j = 0; j < per_thread; ++j) {
        const std::int64_t i = r.first + j * r.stride;
        const std::uint32_t k = i < r.vocab ? order_key(r.p[i]) : 0;
        const bool in = i < r.vocab && (level == 0 || (k >> (shift + 8)) == (prefix >> (shift + 8)));
        b.hist_add(in, static_cast<int>((k >> shift) & 255u),
                   in && by_mass ? fixed_weight(r.p[i], r.max_p) : 1, by_mass);
      }
      b.sync();
      if (level == 0 && by_mass) {
        b.hist_save();
        *mass_level0_saved = true;
      }
    }
    if (level == 0 && fraction >= 0.0) {
      std::uint64_t total = 0;
      for (int d = 0; d < 256; ++d)
        total += b.hist_mass(d);
      target = static_cast<std::uint64_t>(ceil(fraction * static_cast<double>(total)));
    }
    int chosen = -1;
    for (int d = 255; d >= 0; --d) {
      if (b.hist_count(d) == 0) continue;
      const std::uint64_t w = b.hist_mass(d);
      if (reaches(above + w)) {
        chosen = d;
        last_count = b.hist_count(d);
        break;
      }
      above += w;
    }
    if (chosen < 0) return SampleCut{};
    prefix |= static_cast<std::uint32_t>(chosen) << shift;
  }
  // Every element with key == prefix has the same weight.
  const std::uint64_t w = by_mass ? fixed_weight(key_value(prefix), r.max_p) : 1;
  std::uint64_t ties = strict ? (target - above) / w + 1 : (target - above + w - 1) / w;
  if (ties < 1) ties = 1;
  if (ties > last_count) ties = last_count;
  // `above` is the weight of every element with a larger key (each counted at
  // the level where its digit first differs); the ties weigh w each.
  return SampleCut{prefix, ties, above + ties * w, by_mass};
}

// Total weight of the prefix `c` (a pass over the row unless c knows it).
template <class Block>
PAGODA_HD std::uint64_t cut_weight(Block& b, const SampleRowView& r, const SampleCut& c) {
  if (c.weighed) return c.weight;
  std::uint64_t s = 0;
  for (std::int64_t i = r.first; i < r.vocab; i += r.stride) {
    if (order_key(r.p[i]) > c.key) s += fixed_weight(r.p[i], r.max_p);
  }
  return b.sum_u64(s) + c.ties * fixed_weight(key_value(c.key), r.max_p);
}

// The prefix that ends with the last element of key `key`.
template <class Block>
PAGODA_HD SampleCut last_of_key(Block& b, const SampleRowView& r, std::uint32_t key) {
  std::uint64_t n = 0;
  for (std::int64_t i = r.first; i < r.vocab; i += r.stride)
    n += order_key(r.p[i]) == key ? 1 : 0;
  return SampleCut{key, b.sum_u64(n)};
}

// The first element in id order where the running sum of weight(i) passes
// `target`, given `s`, this thread's sum over its contiguous share; -1 on
// every thread when the row's sum does not pass it. A scan finds the share
// holding the target, then the block splits that share the same way (a
// sub-share of one element a thread for 152k logits on 512 threads), so no
// thread walks more than a sub-share.
template <class Block, class Weight>
PAGODA_HD std::int32_t first_passing(Block& b, const SampleRowView& r, std::uint64_t s, std::uint64_t target,
                                     Weight weight) {
  const std::uint64_t acc = b.exclusive_scan_u64(s);
  // At most one share holds the target (the [acc, acc + s) partition the
  // row's sum); the sums hand its start and the weight before it to all.
  const bool holds = acc <= target && target < acc + s;
  const std::uint64_t share_begin = b.sum_u64(holds ? static_cast<std::uint64_t>(r.begin) : 0);
  const std::uint64_t share_acc = b.sum_u64(holds ? acc : 0);
  const auto vocab = static_cast<std::uint64_t>(r.vocab);
  const auto share_len = static_cast<std::uint64_t>(r.chunk);
  const std::uint64_t sub = (share_len + b.num_threads() - 1) / b.num_threads();
  const std::uint64_t share_end = share_begin + share_len < vocab ? share_begin + share_len : vocab;
  std::uint64_t lo = share_begin + static_cast<std::uint64_t>(b.tid()) * sub;
  if (lo > share_end) lo = share_end;
  const std::uint64_t hi = lo + sub < share_end ? lo + sub : share_end;
  std::uint64_t s2 = 0;
  for (std::uint64_t i = lo; i < hi; ++i)
    s2 += weight(static_cast<std::int64_t>(i));
  std::uint64_t acc2 = share_acc + b.exclusive_scan_u64(s2);
  SampleBest found;
  if (acc2 <= target && target < acc2 + s2) {
    for (std::uint64_t i = lo; i < hi; ++i) {
      acc2 += weight(static_cast<std::int64_t>(i));
      if (acc2 > target) {
        found.v = 0.0f;
        found.i = static_cast<std::int32_t>(i);
        break;
      }
    }
  }
  return b.best(found).i;
}

// The token at the last position of prefix `c` (the c.ties-th element with
// key == c.key); returned by every thread.
template <class Block>
PAGODA_HD std::int32_t cut_token(Block& b, const SampleRowView& r, const SampleCut& c) {
  std::uint64_t n = 0;
  for_each_in_share(r.p, r.begin, r.end, [&](std::int64_t, float x) { n += order_key(x) == c.key ? 1 : 0; });
  return first_passing(b, r, n, c.ties - 1,
                       [&](std::int64_t i) -> std::uint64_t { return order_key(r.p[i]) == c.key ? 1 : 0; });
}

// The Sampler's draw over the whole vocabulary (top_k, top_p and min_p off):
// the first token in id order where the running weight passes
// uniform * the row's weight, in one pass over the row.
template <class Block>
PAGODA_HD std::int32_t draw_in_id_order(Block& b, const SampleRowView& r, double uniform) {
  std::uint64_t s = 0;
  for_each_in_share(r.p, r.begin, r.end, [&](std::int64_t, float x) { s += fixed_weight(x, r.max_p); });
  const std::uint64_t total = b.sum_u64(s);  // > 0: the maximum weighs 2^40
  auto target = static_cast<std::uint64_t>(uniform * static_cast<double>(total));
  if (target >= total) target = total - 1;
  const std::int32_t t =
      first_passing(b, r, s, target, [&](std::int64_t i) { return fixed_weight(r.p[i], r.max_p); });
  return t >= 0 ? t : static_cast<std::int32_t>(r.vocab - 1);
}

// The best element of `values` strictly after `after` in the order.
template <class Block>
PAGODA_HD SampleBest best_after(Block& b, const SampleRowView& r, const float* values,
                                const SampleBest& after) {
  SampleBest best;
  for (std::int64_t i = r.first; i < r.vocab; i += r.stride) {
    const float v = values[i];
    const auto id = static_cast<std::int32_t>(i);
    if (after.i >= 0 && !sample_better(after.v, after.i, v, id)) continue;
    keep_better(best, v, id);
  }
  return b.best(best);
}

// From this many top logprobs on, they are found by one radix select (four
// counting passes over the row and two gathering ones) instead of a pass per
// token (best_after).
constexpr int kTopLogprobsBySelectFrom = 7;

// The best `n` (< vocab) elements of r.raw in the order, into out->top_ids
// with their logprobs (raw - lse): the prefix of n found by counting, whose
// elements above its key every thread writes at its scan's offset, then its
// ties in id order; thread 0 sorts the ones above (fewer than n). NaN ranks
// last (key 0) and is left out, as best_after leaves it. Returns how many it
// wrote, or -1 when the row has no such prefix (every thread alike).
template <class Block>
PAGODA_HD int top_by_select(Block& b, const SampleRowView& r, int n, double lse, SampleRowOutput* out) {
  SampleRowView raw = r;
  raw.p = r.raw;
  bool unused = false;
  const SampleCut c = find_cut(b, raw, false, static_cast<std::uint64_t>(n), false, &unused);
  if (c.ties == 0) return -1;
  std::uint64_t above = 0, ties = 0;
  for_each_in_share(r.raw, r.begin, r.end, [&](std::int64_t, float x) {
    const std::uint32_t k = order_key(x);
    above += k > c.key ? 1 : 0;
    ties += k == c.key ? 1 : 0;
  });
  std::uint64_t at = b.exclusive_scan_u64(above);
  const std::uint64_t num_above = b.sum_u64(above);
  std::uint64_t tie = b.exclusive_scan_u64(ties);
  // c.key == 0: the prefix reaches into the NaNs, which are left out.
  const std::uint64_t num_ties = c.key == 0 ? 0 : c.ties;
  for_each_in_share(r.raw, r.begin, r.end, [&](std::int64_t i, float x) {
    const std::uint32_t k = order_key(x);
    // (The bounds hold by the counts; checked so that a miscount cannot
    // write past the output.)
    if (k > c.key) {
      if (at < num_above) out->top_ids[at++] = static_cast<std::int32_t>(i);
    } else if (k == c.key && tie < num_ties && num_above + tie < static_cast<std::uint64_t>(n)) {
      out->top_ids[num_above + tie++] = static_cast<std::int32_t>(i);
    }
  });
  b.sync();
  const int num = static_cast<int>(num_above + num_ties);
  if (b.tid() == 0) {
    // Insertion sort of the few above the key: higher logit first, equal
    // logits by lower id. The ties, all below them, are in id order already.
    for (int i = 1; i < static_cast<int>(num_above); ++i) {
      const std::int32_t id = out->top_ids[i];
      int j = i;
      for (; j > 0 && sample_better(r.raw[id], id, r.raw[out->top_ids[j - 1]], out->top_ids[j - 1]); --j)
        out->top_ids[j] = out->top_ids[j - 1];
      out->top_ids[j] = id;
    }
    for (int i = 0; i < num; ++i)
      out->top_logprobs[i] = static_cast<float>(r.raw[out->top_ids[i]] - lse);
  }
  return num;
}

// The Sampler's choice for one row. `raw` is the row's logits; `p` receives
// the processed row (scratch, [vocab]); `history` and `counts` (scratch,
// [vocab]) are read when the row has penalties (apply_row_edits). Every
// thread of the block calls it; thread 0 writes `out`, except that every
// thread may write top_ids (top_by_select).
template <class Block>
PAGODA_HD void sample_row(Block& b, const SampleRowParams& sp, const float* raw, const LogitEdit* edits,
                          const TokenHistoryView& history, std::uint32_t* counts, float* p,
                          std::int64_t vocab, SampleRowOutput* out) {
  // A thread's share: a multiple of 4 (for_each_in_share).
  const std::int64_t chunk = (vocab + 4 * b.num_threads() - 1) / (4 * b.num_threads()) * 4;
  SampleRowView r;
  r.raw = raw;
  r.p = p;
  r.vocab = vocab;
  r.begin = b.tid() * chunk < vocab ? b.tid() * chunk : vocab;
  r.end = r.begin + chunk < vocab ? r.begin + chunk : vocab;
  r.first = b.tid();
  r.stride = b.num_threads();
  r.chunk = chunk;

  // Logprobs of the raw distribution: log-sum-exp in double, then the best
  // num_logprobs tokens (one at a time when they are few).
  double lse = 0.0;
  if (sp.num_logprobs >= 0) {
    // One pass: each thread sums exp(x - its running maximum), rescaling
    // when the maximum moves, then rescales its sum to the row's maximum.
    // -inf and NaN add nothing, as in the Sampler (a NaN weighs nothing).
    float mx = -INFINITY;
    double s = 0.0;
    for (std::int64_t i = r.first; i < r.vocab; i += r.stride) {
      const float x = raw[i];
      if (!(x > -INFINITY)) continue;
      // One exp either way (a warp's lanes may take different sides).
      const bool up = x > mx;
      const double e = exp(up ? static_cast<double>(mx) - x : static_cast<double>(x) - mx);
      s = up ? s * e + 1.0 : s + e;
      mx = fmaxf(mx, x);
    }
    const float row_mx = b.max_f32(mx);
    s = b.sum_f64(mx == -INFINITY || row_mx == INFINITY ? s : s * exp(static_cast<double>(mx) - row_mx));
    lse = row_mx == INFINITY || row_mx == -INFINITY ? static_cast<double>(row_mx) : row_mx + log(s);
    const int want = sp.num_logprobs < kSampleMaxTopLogprobs ? sp.num_logprobs : kSampleMaxTopLogprobs;
    int n = want >= kTopLogprobsBySelectFrom && want < vocab ? top_by_select(b, r, want, lse, out) : -1;
    if (n < 0) {
      SampleBest prev;
      for (n = 0; n < want; ++n) {
        prev = best_after(b, r, raw, prev);
        if (prev.i < 0) break;
        if (b.tid() == 0) {
          out->top_ids[n] = prev.i;
          out->top_logprobs[n] = static_cast<float>(prev.v - lse);
        }
      }
    }
    if (b.tid() == 0) out->num_top = n;
  }

  // Processed logits: penalties, bias and bans, then temperature. Without
  // any, the pass that writes them also finds the best (NaN skipped), which
  // is also their maximum; edits may change any token's, so then a pass
  // after them does.
  const bool edited = sp.edit_end > sp.edit_begin || sp.penalties.num_history > 0;
  SampleBest best;
  for (std::int64_t i = r.first; i < r.vocab; i += r.stride) {
    const float v = raw[i] * sp.inv_temperature;
    p[i] = v;
    if (!edited) keep_better(best, v, static_cast<std::int32_t>(i));
  }
  if (edited) {
    b.sync();
    apply_row_edits(b, sp.penalties, edits, sp.edit_begin, sp.edit_end, history, counts, raw, p, vocab,
                    sp.inv_temperature);
  }
  b.sync();

  std::int32_t chosen = 0;
  const SampleBest top = edited ? best_after(b, r, p, SampleBest{}) : b.best(best);
  r.max_p = top.i >= 0 ? top.v : -INFINITY;
  if (sp.greedy || top.i < 0 || r.max_p == INFINITY || r.max_p == -INFINITY) {
    chosen = top.i < 0 ? 0 : top.i;
  } else if (sp.top_k <= 0 && sp.top_p >= 1.0 && sp.min_p <= 0.0) {
    chosen = draw_in_id_order(b, r, sp.uniform);
  } else {
    // Survivors: top_k, then the top_p share of their mass, then min_p. Each
    // is a prefix of the order; the survivors are the shortest.
    bool cut = false, mass_level0_saved = false;
    SampleCut keep;
    auto narrow = [&](const SampleCut& c) {
      if (c.ties > 0 && (!cut || cut_before(c, keep))) {
        keep = c;
        cut = true;
      }
    };
    if (sp.top_k > 0 && sp.top_k < vocab)
      narrow(find_cut(b, r, false, static_cast<std::uint64_t>(sp.top_k), false, &mass_level0_saved));
    if (sp.top_p < 1.0 && cut) {
      const std::uint64_t z = cut_weight(b, r, keep);
      const auto target = static_cast<std::uint64_t>(ceil(sp.top_p * static_cast<double>(z)));
      narrow(find_cut(b, r, true, target, false, &mass_level0_saved));
    } else if (sp.top_p < 1.0) {
      narrow(find_cut(b, r, true, 0, false, &mass_level0_saved, sp.top_p));  // of the whole row's weight
    }
    if (sp.min_p > 0.0) {
      const double floor_logit = r.max_p + log(sp.min_p);
      std::uint32_t lowest = 0xffffffffu;
      for (std::int64_t i = r.first; i < r.vocab; i += r.stride) {
        const std::uint32_t k = order_key(p[i]);
        if (static_cast<double>(p[i]) >= floor_logit && k < lowest) lowest = k;
      }
      narrow(last_of_key(b, r, b.min_u32(lowest)));
    }
    if (!cut) {
      // Nothing narrowed (a top_p mass reached only by rounding): the whole row.
      std::uint32_t lowest = 0xffffffffu;
      for (std::int64_t i = r.first; i < r.vocab; i += r.stride) {
        const std::uint32_t k = order_key(p[i]);
        if (k < lowest) lowest = k;
      }
      narrow(last_of_key(b, r, b.min_u32(lowest)));
    }
    const std::uint64_t total = cut_weight(b, r, keep);
    auto target = static_cast<std::uint64_t>(sp.uniform * static_cast<double>(total));
    if (target >= total) target = total - 1;
    SampleCut c = find_cut(b, r, true, target, true, &mass_level0_saved);
    if (c.ties == 0 || cut_before(keep, c)) c = keep;
    chosen = cut_token(b, r, c);
  }
  if (b.tid() == 0) {
    out->token = chosen;
    out->logprob = sp.num_logprobs >= 0 ? static_cast<float>(raw[chosen] - lse) : 0.0f;
  }
}

}  // namespace pagoda::cuda
