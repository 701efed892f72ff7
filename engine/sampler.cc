#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "engine/cpu/cpu_ops.h"

namespace pagoda {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Higher logit first; equal logits by lower token id (a total order, so ties
// never depend on the sort's internals). Rows it sorts hold no NaN (which,
// unordered against everything, would break a sort's invariants):
// without_nan() replaced them.
struct ByLogitDesc {
  const float* logits;
  bool operator()(std::int32_t a, std::int32_t b) const {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  }
};

// NaN logits become -inf, which weigh nothing too and are ordered: before a
// sort, after the row's best is found (which skips NaN, and may be a -inf
// after one). One pass, little beside the sort's.
void without_nan(float* logits, std::int32_t n) {
  for (std::int32_t i = 0; i < n; ++i)
    logits[i] = logits[i] != logits[i] ? kNegInf : logits[i];
}

// The largest value, NaN ignored (-inf when there is none). Eight running
// maxima: the loop `if (x[i] > x[best]) best = i` waits on a load through
// `best` every element (0.092 ms over Qwen 3's vocabulary against 0.037 for
// the argmax below, pagoda_sampler_bench); this one does not, and vectorizes.
float max_value(const float* x, std::int32_t n) {
  constexpr int kLanes = 8;
  float m[kLanes];
  for (float& v : m)
    v = kNegInf;
  std::int32_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j)
      m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  }
  for (; i < n; ++i)
    m[0] = x[i] > m[0] ? x[i] : m[0];
  float r = m[0];
  for (int j = 1; j < kLanes; ++j)
    r = m[j] > r ? m[j] : r;
  return r;
}

// The first index of the largest logit, NaN never (0 when every logit is
// NaN): the device argmax's and sampler's choice too.
std::int32_t argmax(const float* logits, std::int32_t n) {
  const float m = max_value(logits, n);
  for (std::int32_t i = 0; i < n; ++i) {
    if (logits[i] == m) return i;
  }
  return 0;
}

// logits[i] *= inv_t over the row, then the index of its best (argmax).
std::int32_t scale_row(float* logits, std::int32_t n, float inv_t) {
  for (std::int32_t i = 0; i < n; ++i)
    logits[i] *= inv_t;
  return argmax(logits, n);
}

// Over the logits that are not NaN (-inf when there are none).
double log_sum_exp(const float* logits, std::int32_t n) {
  const float mx = max_value(logits, n);
  if (std::isinf(mx)) return mx;
  return mx + std::log(cpu::exp_sum(logits, n, mx, nullptr));
}

void apply_penalties(const ScheduledSequence& seq, const SamplingParams& sp, float* logits,
                     std::int32_t vocab) {
  const std::int64_t total = static_cast<std::int64_t>(seq.token_ids.size());
  const std::int64_t num_out = total - seq.num_prompt_tokens;
  if (sp.repetition_penalty != 1.0) {
    // HF definition: every token seen in prompt or output; divide positive logits, multiply negative ones.
    std::vector<bool> seen(static_cast<std::size_t>(vocab), false);
    for (std::int32_t t : seq.token_ids) {
      if (t < 0 || t >= vocab || seen[static_cast<std::size_t>(t)]) continue;
      seen[static_cast<std::size_t>(t)] = true;
      float& l = logits[t];
      l = l > 0 ? static_cast<float>(l / sp.repetition_penalty)
                : static_cast<float>(l * sp.repetition_penalty);
    }
  }
  if ((sp.presence_penalty != 0.0 || sp.frequency_penalty != 0.0) && num_out > 0) {
    std::unordered_map<std::int32_t, std::int32_t> counts;
    for (std::int64_t i = seq.num_prompt_tokens; i < total; ++i)
      ++counts[seq.token_ids[static_cast<std::size_t>(i)]];
    for (const auto& [t, c] : counts) {
      if (t < 0 || t >= vocab) continue;
      logits[t] -= static_cast<float>(sp.frequency_penalty * c + sp.presence_penalty);
    }
  }
}

// The k best of values[i] * scale over i < n in one pass, best first (equal
// values by lower i), NaN left out, into ids and their scaled values into
// best. For small k: each entry is placed by a linear scan of those kept.
void select_best(const float* values, std::int32_t n, std::size_t k, float scale,
                 std::vector<std::int32_t>& ids, std::vector<float>& best) {
  ids.clear();
  best.clear();
  ids.reserve(k + 1);
  best.reserve(k + 1);
  for (std::int32_t i = 0; i < n; ++i) {
    const float v = values[i] * scale;
    // A token enters only by beating the last kept, so among equal values
    // the lower index (seen first) stays ahead, and NaN (beating nothing)
    // never once k are kept.
    if (best.size() == k ? !(v > best.back()) : v != v) continue;
    std::size_t at = best.size();
    while (at > 0 && v > best[at - 1])
      --at;
    best.insert(best.begin() + static_cast<std::ptrdiff_t>(at), v);
    ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(at), i);
    if (best.size() > k) {
      best.pop_back();
      ids.pop_back();
    }
  }
}

// Candidates best first (ByLogitDesc on the scaled logits) with their weights
// exp(logit - best); top_p, min_p and the draw work on a prefix of them.
struct Candidates {
  std::vector<std::int32_t> ids;
  std::vector<double> weights;
};

// How many of the candidates survive top_p (the smallest prefix holding at
// least top_p of the mass z) and then min_p (those whose logit is at least
// best + log(min_p)); at least one.
std::size_t survivors(const Candidates& c, const float* logits, double z, const SamplingParams& sp) {
  std::size_t keep = c.ids.size();
  if (sp.top_p < 1.0) {
    double mass = 0.0;
    for (std::size_t i = 0; i < c.ids.size(); ++i) {
      mass += c.weights[i] / z;
      if (mass >= sp.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (sp.min_p > 0.0) {
    const double floor_logit = static_cast<double>(logits[c.ids[0]]) + std::log(sp.min_p);
    std::size_t k = 1;
    while (k < keep && static_cast<double>(logits[c.ids[k]]) >= floor_logit)
      ++k;
    keep = k;
  }
  return std::max<std::size_t>(1, keep);
}

// The first of the first `keep` candidates where the running weight passes
// u times their total.
std::int32_t draw(const Candidates& c, std::size_t keep, double u) {
  double total = 0.0;
  for (std::size_t i = 0; i < keep; ++i)
    total += c.weights[i];
  const double target = u * total;
  double acc = 0.0;
  for (std::size_t i = 0; i < keep; ++i) {
    acc += c.weights[i];
    if (acc > target) return c.ids[i];
  }
  return c.ids[keep - 1];
}

// top_k on (0 < top_k < vocab): top_p's mass is over the top_k survivors,
// renormalised (as Hugging Face and vLLM apply them). A small k is found in
// one pass over the vocabulary without scaling or exponentiating the rest.
std::int32_t sample_top_k(float* logits, std::int32_t vocab, const SamplingParams& sp, double u) {
  const float inv_t = static_cast<float>(1.0 / sp.temperature);
  const auto k = static_cast<std::size_t>(sp.top_k);
  Candidates c;
  constexpr std::size_t kOnePassTopK = 256;
  if (k <= kOnePassTopK) {
    std::vector<float> best;
    select_best(logits, vocab, k, inv_t, c.ids, best);
    if (c.ids.empty()) return 0;                   // every logit NaN
    if (!std::isfinite(best[0])) return c.ids[0];  // no softmax to draw from (see Sampler::sample)
    for (std::size_t i = 0; i < c.ids.size(); ++i)
      logits[c.ids[i]] = best[i];
  } else {
    const std::int32_t top = scale_row(logits, vocab, inv_t);
    if (!std::isfinite(logits[top])) return top;  // no softmax to draw from (see Sampler::sample)
    without_nan(logits, vocab);
    c.ids.resize(static_cast<std::size_t>(vocab));
    std::iota(c.ids.begin(), c.ids.end(), 0);
    std::partial_sort(c.ids.begin(), c.ids.begin() + static_cast<std::ptrdiff_t>(k), c.ids.end(),
                      ByLogitDesc{logits});
    c.ids.resize(k);
  }
  const double mx = logits[c.ids[0]];
  double z = 0.0;
  for (std::int32_t id : c.ids) {
    c.weights.push_back(std::exp(static_cast<double>(logits[id]) - mx));
    z += c.weights.back();
  }
  return draw(c, survivors(c, logits, z, sp), u);
}

// top_k off: plain sampling over the whole vocabulary in token order, or
// (with top_p or min_p) over the head of the candidates best first, whose
// mass is a share of the whole vocabulary's.
std::int32_t sample_full(float* logits, std::int32_t vocab, const SamplingParams& sp, double u) {
  const float inv_t = static_cast<float>(1.0 / sp.temperature);
  const std::int32_t top = scale_row(logits, vocab, inv_t);
  const double mx = logits[top];
  if (!std::isfinite(mx)) return top;  // no softmax to draw from (see Sampler::sample)
  if (sp.top_p >= 1.0 && sp.min_p <= 0.0) {
    // draw() over the whole vocabulary in token order, without its id list;
    // the weights' buffer is kept per thread, not allocated per row. A NaN
    // weighs 0 (cpu::exp_sum).
    thread_local std::vector<double> weights;
    weights.resize(static_cast<std::size_t>(vocab));
    const double total = cpu::exp_sum(logits, vocab, mx, weights.data());
    const double target = u * total;
    double acc = 0.0;
    for (std::int32_t i = 0; i < vocab; ++i) {
      acc += weights[static_cast<std::size_t>(i)];
      if (acc > target) return i;
    }
    return vocab - 1;
  }
  without_nan(logits, vocab);
  Candidates c;
  const double z = cpu::exp_sum(logits, vocab, mx, nullptr);
  // Only the head of the order is ever needed, so sort a growing prefix until
  // it holds top_p of the mass, or ends below min_p's floor, or is the whole
  // vocabulary.
  const double floor_logit = sp.min_p > 0.0 ? mx + std::log(sp.min_p) : -HUGE_VAL;
  std::vector<std::int32_t> idx(static_cast<std::size_t>(vocab));
  std::iota(idx.begin(), idx.end(), 0);
  std::size_t want = std::min<std::size_t>(64, idx.size());
  while (true) {
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(want), idx.end(),
                      ByLogitDesc{logits});
    c.ids.assign(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(want));
    c.weights.clear();
    double mass = 0.0;
    for (std::int32_t id : c.ids) {
      c.weights.push_back(std::exp(static_cast<double>(logits[id]) - mx));
      mass += c.weights.back() / z;
    }
    if (want == idx.size() || (sp.top_p < 1.0 && mass >= sp.top_p) ||
        static_cast<double>(logits[c.ids.back()]) < floor_logit)
      break;
    want = std::min(want * 4, idx.size());
  }
  return draw(c, survivors(c, logits, z, sp), u);
}

}  // namespace

double Sampler::uniform(std::uint64_t seed, std::int64_t position) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (static_cast<std::uint64_t>(position) + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

SampledToken Sampler::sample(const ScheduledSequence& seq, float* logits, std::int32_t vocab) const {
  const SamplingParams& sp = *seq.sampling;
  SampledToken out;
  out.request_id = seq.request_id;

  // Raw log-softmax for logprobs, before any processing.
  double raw_lse = 0.0;
  std::vector<float> raw;
  if (sp.logprobs >= 0) {
    raw_lse = log_sum_exp(logits, vocab);
    raw.assign(logits, logits + vocab);
    if (sp.logprobs > 0) {
      std::vector<std::int32_t> ids;
      std::vector<float> best;
      select_best(logits, vocab, static_cast<std::size_t>(sp.logprobs), 1.0f, ids, best);
      for (std::size_t i = 0; i < ids.size(); ++i)
        out.top_logprobs.push_back({ids[i], static_cast<float>(best[i] - raw_lse)});
    }
  }

  if (sp.uses_penalties()) apply_penalties(seq, sp, logits, vocab);
  for (const auto& [id, bias] : sp.logit_bias) {
    if (id >= 0 && id < vocab) logits[id] += bias;
  }
  if (seq.num_output_tokens < sp.min_tokens) {
    if (!sp.ignore_eos) {
      for (std::int32_t id : eos_token_ids_) {
        if (id < vocab) logits[id] = kNegInf;
      }
    }
    for (std::int32_t id : sp.stop_token_ids) {
      if (id >= 0 && id < vocab) logits[id] = kNegInf;
    }
  }

  // Non-finite logits: a NaN weighs nothing and ranks after everything, so it
  // is chosen only when every logit is NaN (then token 0); a row whose best
  // processed logit is +inf or -inf has no softmax to draw from, and its best
  // is chosen, as greedy would. The device sampler does the same
  // (cuda/sample_row.h).
  std::int32_t chosen = 0;
  if (sp.greedy()) {
    chosen = argmax(logits, vocab);
  } else if (sp.top_k > 0 && sp.top_k < vocab) {
    chosen = sample_top_k(logits, vocab, sp, uniform(seq.seed, seq.num_output_tokens));
  } else {
    chosen = sample_full(logits, vocab, sp, uniform(seq.seed, seq.num_output_tokens));
  }
  out.token_id = chosen;
  if (sp.logprobs >= 0) out.logprob = static_cast<float>(raw[static_cast<std::size_t>(chosen)] - raw_lse);
  return out;
}

}  // namespace pagoda
