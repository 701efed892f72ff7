#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

namespace pagoda {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Higher logit first; equal logits by lower token id (a total order, so ties
// never depend on the sort's internals).
struct ByLogitDesc {
  const float* logits;
  bool operator()(std::int32_t a, std::int32_t b) const {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  }
};

std::int32_t argmax(const float* logits, std::int32_t n) {
  std::int32_t best = 0;
  for (std::int32_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

double log_sum_exp(const float* logits, std::int32_t n) {
  float mx = *std::max_element(logits, logits + n);
  if (std::isinf(mx)) return mx;
  double s = 0.0;
  for (std::int32_t i = 0; i < n; ++i)
    s += std::exp(static_cast<double>(logits[i]) - mx);
  return mx + std::log(s);
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
      std::vector<std::int32_t> idx(static_cast<std::size_t>(vocab));
      std::iota(idx.begin(), idx.end(), 0);
      const auto n = std::min<std::size_t>(static_cast<std::size_t>(sp.logprobs), idx.size());
      std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n), idx.end(),
                        ByLogitDesc{raw.data()});
      for (std::size_t i = 0; i < n; ++i) {
        out.top_logprobs.push_back(
            {idx[i], static_cast<float>(raw[static_cast<std::size_t>(idx[i])] - raw_lse)});
      }
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

  std::int32_t chosen = 0;
  if (sp.greedy()) {
    chosen = argmax(logits, vocab);
  } else {
    const float inv_t = static_cast<float>(1.0 / sp.temperature);
    for (std::int32_t i = 0; i < vocab; ++i)
      logits[i] *= inv_t;
    const float mx = logits[argmax(logits, vocab)];
    const bool top_k_on = sp.top_k > 0 && sp.top_k < vocab;
    const double u = uniform(seq.seed, seq.num_output_tokens);
    if (!top_k_on && sp.top_p >= 1.0 && sp.min_p <= 0.0) {
      // Plain sampling over the whole vocabulary, in token order.
      std::vector<double> p(static_cast<std::size_t>(vocab));
      double total = 0.0;
      for (std::int32_t i = 0; i < vocab; ++i)
        total += p[static_cast<std::size_t>(i)] = std::exp(static_cast<double>(logits[i]) - mx);
      double target = u * total, acc = 0.0;
      chosen = vocab - 1;
      for (std::int32_t i = 0; i < vocab; ++i) {
        acc += p[static_cast<std::size_t>(i)];
        if (acc > target && p[static_cast<std::size_t>(i)] > 0.0) {
          chosen = i;
          break;
        }
      }
    } else {
      // Candidates best first. Only the head of the order is ever needed, so
      // sort a growing prefix until it holds top_k tokens or top_p of the mass.
      double z = 0.0;
      for (std::int32_t i = 0; i < vocab; ++i)
        z += std::exp(static_cast<double>(logits[i]) - mx);
      std::vector<std::int32_t> idx(static_cast<std::size_t>(vocab));
      std::iota(idx.begin(), idx.end(), 0);
      std::size_t want =
          top_k_on ? static_cast<std::size_t>(sp.top_k) : std::min<std::size_t>(64, idx.size());
      std::size_t keep = 0;
      while (true) {
        want = std::min(want, idx.size());
        std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(want), idx.end(),
                          ByLogitDesc{logits});
        double mass = 0.0;
        keep = 0;
        for (; keep < want; ++keep) {
          mass += std::exp(static_cast<double>(logits[idx[keep]]) - mx) / z;
          if (mass >= sp.top_p) {
            ++keep;
            break;
          }
        }
        if (keep < want || top_k_on || want == idx.size() || mass >= sp.top_p) break;
        want *= 4;
      }
      keep = std::max<std::size_t>(1, std::min(keep, want));
      // min_p: drop tokens below min_p x the best probability.
      if (sp.min_p > 0.0) {
        const double floor_logit = static_cast<double>(mx) + std::log(sp.min_p);
        std::size_t k = 1;
        while (k < keep && static_cast<double>(logits[idx[k]]) >= floor_logit)
          ++k;
        keep = k;
      }
      double total = 0.0;
      for (std::size_t i = 0; i < keep; ++i)
        total += std::exp(static_cast<double>(logits[idx[i]]) - mx);
      double target = u * total, acc = 0.0;
      chosen = idx[keep - 1];
      for (std::size_t i = 0; i < keep; ++i) {
        acc += std::exp(static_cast<double>(logits[idx[i]]) - mx);
        if (acc > target) {
          chosen = idx[i];
          break;
        }
      }
    }
  }
  out.token_id = chosen;
  if (sp.logprobs >= 0) out.logprob = static_cast<float>(raw[static_cast<std::size_t>(chosen)] - raw_lse);
  return out;
}

}  // namespace pagoda
