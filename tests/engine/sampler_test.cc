#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <vector>

namespace pagoda {
namespace {

constexpr std::int32_t kEos = 5;

// One sampling call over a copy of `logits` (the sampler works in place).
struct Call {
  std::vector<std::int32_t> tokens = {1, 2, 3};  // prompt, then output
  std::int32_t num_prompt = 3;
  SamplingParams sp;

  SampledToken run(std::vector<float> logits, std::uint64_t seed = 7) const {
    ScheduledSequence seq;
    seq.token_ids = tokens;
    seq.num_prompt_tokens = num_prompt;
    seq.num_output_tokens = static_cast<std::int32_t>(tokens.size()) - num_prompt;
    seq.sampling = &sp;
    seq.seed = seed;
    return Sampler({kEos}).sample(seq, logits.data(), static_cast<std::int32_t>(logits.size()));
  }

  // Share of each token over `draws` seeds.
  std::map<std::int32_t, double> frequencies(const std::vector<float>& logits, int draws) const {
    std::map<std::int32_t, double> f;
    for (int s = 0; s < draws; ++s)
      f[run(logits, static_cast<std::uint64_t>(s) * 7919 + 1).token_id] += 1.0 / draws;
    return f;
  }
};

// The distribution Hugging Face's warpers define, written plainly in double:
// temperature, then top_k, then top_p over the survivors renormalised (the
// smallest set of best tokens holding top_p), then min_p against the best.
std::vector<double> reference_distribution(const std::vector<float>& logits, const SamplingParams& sp) {
  const auto n = logits.size();
  std::vector<double> l(n);
  for (std::size_t i = 0; i < n; ++i)
    l[i] = static_cast<double>(logits[i]) / sp.temperature;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return l[a] > l[b]; });
  std::vector<bool> kept(n, true);
  if (sp.top_k > 0)
    for (std::size_t r = static_cast<std::size_t>(sp.top_k); r < n; ++r)
      kept[order[r]] = false;
  auto normalised = [&] {
    std::vector<double> p(n, 0.0);
    double z = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      if (kept[i]) z += p[i] = std::exp(l[i] - l[order[0]]);
    for (double& x : p)
      x /= z;
    return p;
  };
  if (sp.top_p < 1.0) {
    const std::vector<double> p = normalised();
    double mass = 0.0;
    for (std::size_t r = 0; r < n; ++r) {
      if (mass >= sp.top_p) kept[order[r]] = false;
      mass += p[order[r]];
    }
  }
  if (sp.min_p > 0.0) {
    for (std::size_t i = 0; i < n; ++i)
      if (std::exp(l[i] - l[order[0]]) < sp.min_p) kept[i] = false;
  }
  return normalised();
}

// Every draw lands where the reference puts mass, at the reference's rate:
// the reference over `logits`, or over `reference_logits` where given.
void expect_matches_reference(const Call& call, const std::vector<float>& logits,
                              const std::vector<float>* reference_logits = nullptr) {
  constexpr int kDraws = 20000;
  const std::vector<double> p =
      reference_distribution(reference_logits != nullptr ? *reference_logits : logits, call.sp);
  const auto f = call.frequencies(logits, kDraws);
  for (const auto& [token, share] : f)
    EXPECT_GT(p[static_cast<std::size_t>(token)], 0.0)
        << "token " << token << " drawn outside the reference's support";
  for (std::size_t t = 0; t < p.size(); ++t) {
    const auto it = f.find(static_cast<std::int32_t>(t));
    const double share = it == f.end() ? 0.0 : it->second;
    // Five standard deviations of a share over kDraws draws.
    const double tolerance = 5.0 * std::sqrt(p[t] * (1.0 - p[t]) / kDraws) + 1e-9;
    EXPECT_NEAR(share, p[t], tolerance) << "token " << t;
  }
}

const std::vector<float> kLogits = {1.0f, 2.5f, 0.5f, 2.5f, -1.0f, 0.0f, 1.7f, -3.0f, 0.9f, 2.0f};

TEST(SamplerTest, GreedyIsTheArgmaxWithTiesToTheLowerId) {
  Call c;
  c.sp.temperature = 0.0;
  EXPECT_EQ(c.run(kLogits).token_id, 1);  // 1 and 3 tie at 2.5
}

// Over vocabulary-sized rows (the argmax keeps several running maxima):
// the first of equal maxima wherever they sit, a NaN never chosen (token 0
// only when every logit is NaN), a row of -inf gives token 0.
TEST(SamplerTest, GreedyOverLongRowsTakesTheFirstMaximumAndSkipsNaN) {
  Call c;
  c.sp.temperature = 0.0;
  std::vector<float> row(151936);
  for (std::size_t i = 0; i < row.size(); ++i)
    row[i] = static_cast<float>((i * 7919) % 1000) * 0.01f;
  for (std::size_t at : {std::size_t{70001}, std::size_t{151935}, std::size_t{9}})
    row[at] = 42.0f;
  EXPECT_EQ(c.run(row).token_id, 9);
  row[5] = NAN;
  row[100] = NAN;
  EXPECT_EQ(c.run(row).token_id, 9);
  row[0] = NAN;
  row[9] = NAN;
  EXPECT_EQ(c.run(row).token_id, 70001);
  std::vector<float> all_inf(1003, -INFINITY);
  EXPECT_EQ(c.run(all_inf).token_id, 0);
  all_inf[0] = NAN;
  EXPECT_EQ(c.run(all_inf).token_id, 1);
  all_inf[1002] = -1.0f;
  EXPECT_EQ(c.run(all_inf).token_id, 1002);
  EXPECT_EQ(c.run(std::vector<float>(1003, NAN)).token_id, 0);
}

// Sampling settings, each through a different path of the Sampler: the
// softmax in id order, top_k found in one pass, top_p sorting the head of
// the row, min_p, and top_k by a partial sort (k > 256).
std::vector<SamplingParams> drawn_settings() {
  std::vector<SamplingParams> out(5);
  out[0].temperature = 0.7;
  out[1].top_k = 3;
  out[2].top_p = 0.8;
  out[3].min_p = 0.3;
  out[4].top_k = 300;
  out[4].top_p = 0.9;
  return out;
}

// A NaN logit weighs nothing: a row with NaNs draws as if they were -inf
// under every setting, and its logprobs are of the other tokens (the device
// sampler does the same; a NaN ordered nowhere once broke the sort's order).
TEST(SamplerTest, NaNLogitsWeighNothing) {
  std::vector<float> short_row = kLogits;
  std::vector<float> long_row(600);
  for (std::size_t i = 0; i < long_row.size(); ++i)
    long_row[i] = static_cast<float>((i * 7919) % 600) * 0.01f;
  for (const SamplingParams& sp : drawn_settings()) {
    Call c;
    c.sp = sp;
    std::vector<float> logits = sp.top_k > 256 ? long_row : short_row;
    std::vector<float> as_if = logits;
    for (std::size_t at : {std::size_t{0}, std::size_t{3}, std::size_t{7}}) {
      logits[at] = NAN;
      as_if[at] = -INFINITY;
    }
    expect_matches_reference(c, logits, &as_if);
    c.sp.logprobs = 4;
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      const SampledToken got = c.run(logits, seed), want = c.run(as_if, seed);
      EXPECT_EQ(got.token_id, want.token_id);
      EXPECT_NEAR(got.logprob, want.logprob, 1e-6);
      ASSERT_EQ(got.top_logprobs.size(), want.top_logprobs.size());
      for (std::size_t i = 0; i < got.top_logprobs.size(); ++i) {
        EXPECT_EQ(got.top_logprobs[i].token_id, want.top_logprobs[i].token_id);
        EXPECT_NEAR(got.top_logprobs[i].logprob, want.top_logprobs[i].logprob, 1e-6);
      }
    }
  }
}

// A row whose best logit is +inf, or which has no finite logit, has no
// softmax to draw from: every setting chooses its best, as greedy does.
TEST(SamplerTest, RowsWithoutAFiniteBestChooseTheirBest) {
  std::vector<float> plus_inf = kLogits;
  plus_inf[6] = INFINITY;
  plus_inf[8] = INFINITY;
  const std::vector<float> no_finite = {NAN, -INFINITY, NAN, -INFINITY, NAN};
  const std::vector<float> all_nan(5, NAN);
  for (const SamplingParams& sp : drawn_settings()) {
    Call c;
    c.sp = sp;
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
      EXPECT_EQ(c.run(plus_inf, seed).token_id, 6);
      EXPECT_EQ(c.run(no_finite, seed).token_id, 1);
      EXPECT_EQ(c.run(all_nan, seed).token_id, 0);
    }
  }
}

TEST(SamplerTest, TemperatureSamplingFollowsTheSoftmax) {
  Call c;
  c.sp.temperature = 0.7;
  expect_matches_reference(c, kLogits);
}

TEST(SamplerTest, TopKKeepsTheKBestRenormalised) {
  Call c;
  c.sp.temperature = 1.3;
  c.sp.top_k = 3;  // 1 and 3 (tied), then 9
  expect_matches_reference(c, kLogits);
  c.sp.top_k = 1;  // of the tied best, the lower id
  for (std::uint64_t seed = 0; seed < 50; ++seed)
    EXPECT_EQ(c.run(kLogits, seed).token_id, 1);
}

// With top_k 3 of a long flat tail the three survivors hold little of the
// whole vocabulary's mass; top_p applies to them renormalised, so 0.8 keeps
// two of them (0.665 + 0.245), never the third (0.090).
TEST(SamplerTest, TopPIsTakenOverTheTopKSurvivors) {
  std::vector<float> logits(1000, 0.0f);
  logits[10] = 3.0f;
  logits[20] = 2.0f;
  logits[30] = 1.0f;
  Call c;
  c.sp.top_k = 3;
  c.sp.top_p = 0.8;
  const auto f = c.frequencies(logits, 4000);
  EXPECT_EQ(f.count(30), 0u);
  EXPECT_NEAR(f.at(10), std::exp(3.0) / (std::exp(3.0) + std::exp(2.0)), 0.03);
  expect_matches_reference(c, logits);
}

TEST(SamplerTest, TopPWithoutTopKIsOverTheWholeVocabulary) {
  std::vector<float> logits(3000, 0.0f);
  for (int i = 0; i < 40; ++i)
    logits[static_cast<std::size_t>(i * 61)] = 6.0f - 0.1f * static_cast<float>(i);
  Call c;
  c.sp.top_p = 0.5;
  expect_matches_reference(c, logits);
}

TEST(SamplerTest, MinPDropsTokensBelowItsShareOfTheBest) {
  Call c;
  c.sp.temperature = 1.0;
  c.sp.min_p = 0.3;  // keeps tokens within log(1/0.3) = 1.2 of the best: 1, 3, 6, 9
  expect_matches_reference(c, kLogits);
  c.sp.top_k = 3;
  c.sp.top_p = 0.9;
  expect_matches_reference(c, kLogits);
  // A long vocabulary without top_k: the candidates are sorted only as far as
  // min_p's floor.
  std::vector<float> logits(3000, 0.0f);
  for (int i = 0; i < 100; ++i)
    logits[static_cast<std::size_t>(i * 29)] = 4.0f - 0.05f * static_cast<float>(i);
  Call wide;
  wide.sp.min_p = 0.2;  // within log(5) = 1.6 of the best: the first 33 of the hundred
  expect_matches_reference(wide, logits);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  Call c;
  c.sp.temperature = 0.0;
  c.sp.repetition_penalty = 2.0;
  c.tokens = {0, 4, 7};  // prompt
  c.num_prompt = 3;
  // 2.0 / 2 = 1.0 falls below 1.5.
  EXPECT_EQ(c.run({2.0f, 1.5f, -9, -9, -9, -9, -9, -9}).token_id, 1);
  // -1.0 * 2 = -2.0 falls below -1.5 (token 4 is in the prompt).
  EXPECT_EQ(c.run({-9, -1.5f, -9, -9, -1.0f, -9, -9, -9}).token_id, 1);
  c.sp.repetition_penalty = 1.0;
  EXPECT_EQ(c.run({-9, -1.5f, -9, -9, -1.0f, -9, -9, -9}).token_id, 4);
}

TEST(SamplerTest, PresenceAndFrequencyPenaltiesCountOutputTokensOnly) {
  Call c;
  c.sp.temperature = 0.0;
  c.sp.frequency_penalty = 0.6;
  c.sp.presence_penalty = 0.1;
  c.tokens = {2, 2, 2, 0, 0};  // prompt {2, 2, 2}, output {0, 0}
  c.num_prompt = 3;
  // Token 0: 2.0 - (0.6 * 2 + 0.1) = 0.7 < 1.0. Token 2, seen only in the
  // prompt, keeps its 1.5.
  EXPECT_EQ(c.run({2.0f, 1.0f, 1.5f, -9}).token_id, 2);
  c.tokens = {2, 2, 2, 0};  // one 0 in the output: 2.0 - 0.7 = 1.3 < 1.5
  EXPECT_EQ(c.run({2.0f, 1.0f, 1.5f, -9}).token_id, 2);
  c.sp.presence_penalty = 0.0;
  c.sp.frequency_penalty = 0.4;  // 2.0 - 0.4 = 1.6 > 1.5
  EXPECT_EQ(c.run({2.0f, 1.0f, 1.5f, -9}).token_id, 0);
}

TEST(SamplerTest, LogitBiasAndMinTokensSteerTheChoice) {
  Call c;
  c.sp.temperature = 0.0;
  std::vector<float> logits = {0, 0, 0, 0, 0, 4.0f, 3.0f, 2.0f};  // kEos = 5 leads
  EXPECT_EQ(c.run(logits).token_id, kEos);
  c.sp.min_tokens = 2;
  c.sp.stop_token_ids = {6};
  c.tokens = {1, 2, 3, 4};  // one output token so far: eos and stop ids suppressed
  EXPECT_EQ(c.run(logits).token_id, 7);
  c.tokens = {1, 2, 3, 4, 4};  // two: no longer
  EXPECT_EQ(c.run(logits).token_id, kEos);
  c.sp.logit_bias = {{2, 10.0f}};
  EXPECT_EQ(c.run(logits).token_id, 2);
}

TEST(SamplerTest, LogprobsAreOfTheRawDistribution) {
  Call c;
  c.sp.temperature = 0.5;
  c.sp.top_k = 2;
  c.sp.logprobs = 3;
  c.sp.logit_bias = {{0, 5.0f}};  // applied after the logprobs are taken
  const SampledToken t = c.run(kLogits);
  double z = 0.0;
  for (float l : kLogits)
    z += std::exp(static_cast<double>(l));
  auto logprob = [&](std::int32_t id) {
    return static_cast<double>(kLogits[static_cast<std::size_t>(id)]) - std::log(z);
  };
  EXPECT_NEAR(t.logprob, logprob(t.token_id), 1e-5);
  ASSERT_EQ(t.top_logprobs.size(), 3u);
  const std::int32_t best[] = {1, 3, 9};  // 2.5, 2.5 (the lower id first), 2.0
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t.top_logprobs[i].token_id, best[i]);
    EXPECT_NEAR(t.top_logprobs[i].logprob, logprob(best[i]), 1e-5);
  }
}

TEST(SamplerTest, TheSameSeedAndPositionDrawTheSameToken) {
  Call c;
  c.sp.top_k = 5;
  const std::int32_t first = c.run(kLogits, 42).token_id;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(c.run(kLogits, 42).token_id, first);
  EXPECT_NE(Sampler::uniform(42, 0), Sampler::uniform(42, 1));
  EXPECT_NE(Sampler::uniform(42, 0), Sampler::uniform(43, 0));
}

}  // namespace
}  // namespace pagoda
