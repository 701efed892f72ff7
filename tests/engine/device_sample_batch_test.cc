// The device sampler's algorithm (cuda/sample_row.h) against the host Sampler
// on the same rows — every parameter the device path takes, rows with many
// tied logits, flat and peaked rows — run by one host thread (SerialBlock)
// and by a block of host threads (ThreadedBlock: each collective a barrier,
// a slot per thread, shared histogram atomics, as a CUDA block's), so the
// split of a row into per-thread shares, the scans and the ties that cross
// shares are checked without a GPU. tests/cuda runs the CUDA kernel itself.
#include "engine/cuda/device_sample_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/sampler.h"

namespace pagoda::cuda {
namespace {

constexpr std::int32_t kEos = 2;

struct Case {
  std::string name;
  SamplingParams sp;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto add = [&](std::string name, auto&& set) {
    Case c{std::move(name), {}};
    set(c.sp);
    out.push_back(std::move(c));
  };
  add("greedy", [](SamplingParams& s) { s.temperature = 0.0; });
  add("greedy_logprobs", [](SamplingParams& s) {
    s.temperature = 0.0;
    s.logprobs = 5;
  });
  add("temperature", [](SamplingParams& s) { s.temperature = 0.7; });
  add("temperature_hot", [](SamplingParams& s) { s.temperature = 1.9; });
  for (int k : {1, 3, 40, 300})
    add("top_k_" + std::to_string(k), [k](SamplingParams& s) { s.top_k = k; });
  for (double p : {0.1, 0.5, 0.9, 0.99})
    add("top_p_" + std::to_string(p), [p](SamplingParams& s) { s.top_p = p; });
  for (double m : {0.01, 0.3})
    add("min_p_" + std::to_string(m), [m](SamplingParams& s) { s.min_p = m; });
  add("top_k_top_p_min_p", [](SamplingParams& s) {
    s.temperature = 0.8;
    s.top_k = 50;
    s.top_p = 0.8;
    s.min_p = 0.05;
  });
  add("top_k_top_p", [](SamplingParams& s) {
    s.top_k = 500;
    s.top_p = 0.95;
  });
  add("penalties", [](SamplingParams& s) {
    s.repetition_penalty = 1.3;
    s.presence_penalty = 0.5;
    s.frequency_penalty = 0.7;
  });
  add("greedy_penalties", [](SamplingParams& s) {
    s.temperature = 0.0;
    s.repetition_penalty = 0.8;
    s.frequency_penalty = -1.5;
  });
  // Edits on tokens the history penalizes too (3, 42 and the banned 9), and
  // on one it does not (50).
  add("penalties_bias_bans", [](SamplingParams& s) {
    s.repetition_penalty = 1.2;
    s.presence_penalty = 0.4;
    s.frequency_penalty = 0.3;
    s.logit_bias = {{3, 2.0f}, {42, -1.0f}, {50, 1.5f}};
    s.min_tokens = 100;
    s.stop_token_ids = {9};
  });
  add("logit_bias", [](SamplingParams& s) {
    s.top_p = 0.9;
    s.logit_bias = {{3, 6.0f}, {10, -100.0f}, {4, 0.0f}};
  });
  add("min_tokens", [](SamplingParams& s) {
    s.min_tokens = 100;
    s.stop_token_ids = {0, 1};
    s.top_k = 5;
  });
  add("logprobs_20", [](SamplingParams& s) {
    s.logprobs = 20;
    s.top_p = 0.7;
  });
  add("logprobs_0", [](SamplingParams& s) { s.logprobs = 0; });
  // The fewest found by one radix select (kTopLogprobsBySelectFrom).
  add("logprobs_7", [](SamplingParams& s) {
    s.logprobs = 7;
    s.temperature = 1.3;
  });
  return out;
}

// A row of logits: normal with spread `scale`; `step` > 0 rounds to multiples
// of it so many logits tie.
std::vector<float> row(std::int32_t vocab, float scale, float step, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<std::size_t>(vocab));
  for (float& x : v) {
    x = d(rng);
    if (step > 0) x = std::round(x / step) * step;
  }
  return v;
}

// sample_row's block interface on `n` host threads.
struct ThreadedShared {
  explicit ThreadedShared(int n)
      : num_threads(n),
        barrier(n),
        u64(static_cast<std::size_t>(n)),
        f64(static_cast<std::size_t>(n)),
        f32(static_cast<std::size_t>(n)),
        u32(static_cast<std::size_t>(n)),
        best(static_cast<std::size_t>(n)),
        adds(static_cast<std::size_t>(n)) {}
  int num_threads;
  std::barrier<> barrier;
  std::vector<std::uint64_t> u64;
  std::vector<double> f64;
  std::vector<float> f32;
  std::vector<std::uint32_t> u32;
  std::vector<SampleBest> best;
  // Each thread's hist_add calls so far: a CUDA block's adds are warp
  // collectives, so every thread must make as many (checked between passes
  // and at the end of the row).
  std::vector<std::int64_t> adds;
  bool unequal_adds = false;
  void check_adds() {
    for (const std::int64_t a : adds)
      unequal_adds = unequal_adds || a != adds[0];
  }
  std::atomic<std::uint64_t> count[256] = {};
  std::atomic<std::uint64_t> mass[256] = {};
  std::uint64_t saved_count[256] = {};
  std::uint64_t saved_mass[256] = {};
};

struct ThreadedBlock {
  ThreadedShared& s;
  int t;

  int tid() const { return t; }
  int num_threads() const { return s.num_threads; }
  void sync() { s.barrier.arrive_and_wait(); }
  // Each thread's value in its slot, then every thread folds all slots in order.
  template <class T, class Fold>
  T all(std::vector<T>& slots, T v, T init, Fold fold, int upto = -1) {
    sync();
    slots[static_cast<std::size_t>(t)] = v;
    sync();
    T r = init;
    for (int i = 0; i < (upto < 0 ? s.num_threads : upto); ++i)
      r = fold(r, slots[static_cast<std::size_t>(i)]);
    return r;
  }
  std::uint64_t sum_u64(std::uint64_t v) {
    return all(s.u64, v, std::uint64_t{0}, [](std::uint64_t a, std::uint64_t b) { return a + b; });
  }
  double sum_f64(double v) {
    return all(s.f64, v, 0.0, [](double a, double b) { return a + b; });
  }
  float max_f32(float v) {
    return all(s.f32, v, -INFINITY, [](float a, float b) { return std::fmax(a, b); });
  }
  std::uint32_t min_u32(std::uint32_t v) {
    return all(s.u32, v, 0xffffffffu, [](std::uint32_t a, std::uint32_t b) { return std::min(a, b); });
  }
  SampleBest best(SampleBest v) {
    return all(s.best, v, SampleBest{},
               [](SampleBest a, SampleBest b) { return sample_better(b.v, b.i, a.v, a.i) ? b : a; });
  }
  std::uint64_t exclusive_scan_u64(std::uint64_t v) {
    return all(
        s.u64, v, std::uint64_t{0}, [](std::uint64_t a, std::uint64_t b) { return a + b; }, t);
  }
  void hist_clear() {
    sync();
    if (t == 0) {
      s.check_adds();
      for (int d = 0; d < 256; ++d) {
        s.count[d] = 0;
        s.mass[d] = 0;
      }
    }
    sync();
  }
  void clear_word(std::uint32_t* w) {
    std::atomic_ref<std::uint32_t>(*w).store(0, std::memory_order_relaxed);
  }
  void add_word(std::uint32_t* w, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(*w).fetch_add(v, std::memory_order_relaxed);
  }
  std::uint32_t or_word(std::uint32_t* w, std::uint32_t bits) {
    return std::atomic_ref<std::uint32_t>(*w).fetch_or(bits, std::memory_order_relaxed);
  }
  void hist_add(bool in, int d, std::uint64_t w, bool /*weighted*/) {
    ++s.adds[static_cast<std::size_t>(t)];
    if (!in) return;
    s.count[d].fetch_add(1, std::memory_order_relaxed);
    s.mass[d].fetch_add(w, std::memory_order_relaxed);
  }
  std::uint64_t hist_count(int d) const { return s.count[d].load(); }
  std::uint64_t hist_mass(int d) const { return s.mass[d].load(); }
  void hist_save() {
    sync();
    if (t == 0) {
      for (int d = 0; d < 256; ++d) {
        s.saved_count[d] = s.count[d].load();
        s.saved_mass[d] = s.mass[d].load();
      }
    }
    sync();
  }
  void hist_restore() {
    sync();
    if (t == 0) {
      for (int d = 0; d < 256; ++d) {
        s.count[d].store(s.saved_count[d]);
        s.mass[d].store(s.saved_mass[d]);
      }
    }
    sync();
  }
};

// A token history laid out in KV-cache slots as the CUDA runner keeps it:
// blocks of block_size in reverse order at odd block ids, after two table
// entries of other sequences (the row's table starts at kTableOffset). Every
// other slot holds kPoison, a token no history here has, which a read past
// the history would count.
struct PagedHistory {
  static constexpr std::int32_t kTableOffset = 2;
  static constexpr std::int32_t kPoison = 1;
  std::vector<std::int32_t> slot_tokens, table;
  std::int32_t block_size = 1;

  PagedHistory(std::span<const std::int32_t> tokens, std::int32_t bs) : block_size(bs) {
    const auto n = static_cast<std::int32_t>((tokens.size() + bs - 1) / bs);
    slot_tokens.assign(static_cast<std::size_t>(2 * (n + 1) * bs), kPoison);
    table = {0, 2};
    for (std::int32_t b = 0; b < n; ++b)
      table.push_back(2 * (n - b) - 1);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const std::int64_t block =
          table[static_cast<std::size_t>(kTableOffset) + i / static_cast<std::size_t>(bs)];
      slot_tokens[static_cast<std::size_t>(block * bs) + i % static_cast<std::size_t>(bs)] = tokens[i];
    }
  }
  TokenHistoryView view() const { return {slot_tokens.data(), table.data(), block_size}; }
};

// One row sampled by `threads` host threads (1: SerialBlock). The count
// scratch starts as garbage with both flags set: only the words a row
// clears may be read.
SampleRowOutput sample_with(int threads, const SampleRowParams& params, const std::vector<float>& logits,
                            const std::vector<LogitEdit>& edits, const TokenHistoryView& history) {
  std::vector<float> p(logits.size());
  std::vector<std::uint32_t> counts(logits.size(), kInPrompt | kWritten | 5u);
  const auto vocab = static_cast<std::int64_t>(logits.size());
  SampleRowOutput out;
  if (threads == 1) {
    SerialBlock block;
    sample_row(block, params, logits.data(), edits.data(), history, counts.data(), p.data(), vocab, &out);
    return out;
  }
  ThreadedShared shared(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ThreadedBlock block{shared, t};
      sample_row(block, params, logits.data(), edits.data(), history, counts.data(), p.data(), vocab, &out);
    });
  }
  for (auto& th : pool)
    th.join();
  shared.check_adds();
  EXPECT_FALSE(shared.unequal_adds) << "threads of the block made different numbers of histogram adds";
  return out;
}

struct Shape {
  std::int32_t vocab;
  float scale, step;
};

// Prompt then output, repeats included (penalties count them).
const std::vector<std::int32_t> kHistory = {7, 3, 3, 11, 2, 5, 3, 9, 9, 9, 0, 42};

// Logprobs agree: within 1e-6, or the same infinity, or both NaN.
bool same_logprob(float got, float want) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  if (std::isinf(got) || std::isinf(want)) return got == want;
  return std::fabs(got - want) <= 1e-6f;
}

// One row of `logits` sampled by `threads` threads as the host Sampler does,
// its history (`history`, the first num_prompt the prompt) in blocks of
// block_size.
void expect_same_choice(int threads, const Case& c, const std::vector<float>& logits, std::uint64_t seed,
                        std::int32_t block_size, std::span<const std::int32_t> history = kHistory,
                        std::int32_t num_prompt = 5) {
  const std::vector<std::int32_t> eos = {kEos};
  const Sampler sampler(eos);
  const auto vocab = static_cast<std::int32_t>(logits.size());
  ScheduledSequence seq;
  seq.token_ids = history;
  seq.num_prompt_tokens = num_prompt;
  seq.num_output_tokens = static_cast<std::int32_t>(history.size()) - num_prompt;
  seq.sampling = &c.sp;
  seq.seed = seed;
  std::vector<float> host = logits;
  const SampledToken want = sampler.sample(seq, host.data(), vocab);

  const PagedHistory paged(history, block_size);
  DeviceSampleBatch batch;
  ASSERT_TRUE(append_device_sample_row(seq, 0, PagedHistory::kTableOffset, eos, vocab, &batch));
  const SampleRowOutput got = sample_with(threads, batch.rows[0], logits, batch.edits, paged.view());

  EXPECT_EQ(got.token, want.token_id);
  if (c.sp.logprobs >= 0) {
    EXPECT_PRED2(same_logprob, got.logprob, want.logprob);
    ASSERT_EQ(got.num_top, static_cast<std::int32_t>(want.top_logprobs.size()));
    for (int i = 0; i < got.num_top; ++i) {
      EXPECT_EQ(got.top_ids[i], want.top_logprobs[static_cast<std::size_t>(i)].token_id);
      EXPECT_PRED2(same_logprob, got.top_logprobs[i], want.top_logprobs[static_cast<std::size_t>(i)].logprob);
    }
  }
}

// Every case on every shape with three seeds (with histories in blocks of 1,
// 5 and 16), by `threads` threads.
void expect_equal_to_host_sampler(int threads, const std::vector<Shape>& shapes) {
  int checked = 0;
  for (const Shape& shape : shapes) {
    for (const Case& c : cases()) {
      for (std::uint64_t seed : {1ull, 99ull, 12345ull}) {
        SCOPED_TRACE(c.name + " vocab " + std::to_string(shape.vocab) + " step " +
                     std::to_string(shape.step) + " seed " + std::to_string(seed) + " threads " +
                     std::to_string(threads));
        const std::vector<float> logits =
            row(shape.vocab, shape.scale, shape.step, static_cast<std::uint32_t>(seed * 31 + shape.vocab));
        expect_same_choice(threads, c, logits, seed, seed == 1 ? 1 : seed == 99 ? 5 : 16);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(shapes.size() * cases().size()) * 3);
}

TEST(DeviceSampleBatchTest, SerialAlgorithmEqualsHostSampler) {
  expect_equal_to_host_sampler(1, {{97, 1.0f, 0.0f},
                                   {1000, 3.0f, 0.0f},
                                   {1000, 2.0f, 0.25f},
                                   {5003, 0.3f, 0.0f},
                                   {151936, 2.5f, 0.0f},
                                   {4096, 8.0f, 1.0f}});
}

// 7 threads: shares of 16, 144 and 716 (multiples of 4) with a shorter last
// one; 64 threads over 97 tokens: shares of 4, the last 39 empty.
TEST(DeviceSampleBatchTest, ThreadedAlgorithmEqualsHostSampler) {
  expect_equal_to_host_sampler(7, {{97, 1.0f, 0.0f}, {1000, 2.0f, 0.25f}, {5003, 0.3f, 0.0f}});
  expect_equal_to_host_sampler(64, {{97, 1.0f, 0.25f}});
}

// Rows with -inf logits, ties across the 7th top logprob (the first count
// the radix select takes), vocabularies smaller than a block (most threads'
// shares empty; min_tokens bans the whole of 2 or 3), and non-finite rows:
// NaN, which weighs nothing and ranks last, +inf maxima, no finite logit,
// every logit NaN. By one thread and by 7 and 64.
TEST(DeviceSampleBatchTest, EdgeRowsEqualHostSampler) {
  std::vector<std::pair<std::string, std::vector<float>>> rows;
  auto add = [&](std::string name, std::int32_t vocab, auto&& edit) {
    std::vector<float> v = row(vocab, 2.0f, 0.5f, static_cast<std::uint32_t>(vocab));
    edit(v);
    rows.emplace_back(std::move(name), std::move(v));
  };
  add("half -inf", 300, [](std::vector<float>& v) {
    for (std::size_t i = 0; i < v.size(); i += 2)
      v[i] = -INFINITY;
  });
  add("ties across the top 7", 300, [](std::vector<float>& v) {
    for (std::size_t i = 0; i < v.size(); i += 37)
      v[i] = 9.0f;  // 9 tied maxima, so the 7th logprob falls among them
  });
  for (const std::int32_t vocab : {1, 2, 3, 4, 5})
    add("vocab " + std::to_string(vocab), vocab, [](std::vector<float>&) {});
  add("NaN", 300, [](std::vector<float>& v) {
    for (std::size_t i = 0; i < v.size(); i += 29)
      v[i] = NAN;  // among them token 0 and the best ones
    v[101] = NAN;
    v[102] = 9.0f;
  });
  add("+inf", 300, [](std::vector<float>& v) {
    v[200] = INFINITY;
    v[7] = INFINITY;
  });
  add("no finite logit", 300, [](std::vector<float>& v) {
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = i % 3 == 0 ? NAN : -INFINITY;
  });
  add("every logit NaN", 70, [](std::vector<float>& v) { std::fill(v.begin(), v.end(), NAN); });
  int checked = 0;
  for (const int threads : {1, 7, 64}) {
    for (const auto& [name, logits] : rows) {
      for (const Case& c : cases()) {
        SCOPED_TRACE(name + ", " + c.name + ", threads " + std::to_string(threads));
        expect_same_choice(threads, c, logits, 5, 5);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 3 * static_cast<int>(rows.size() * cases().size()));
}

// Long histories of few distinct tokens, counted by many threads at once
// (most count words taken by several): every penalty alone and together,
// greedy and drawn, histories in blocks of 1, 16 and 7.
TEST(DeviceSampleBatchTest, LongHistoryPenaltiesEqualHostSampler) {
  std::mt19937 rng(4242);
  std::uniform_int_distribution<std::int32_t> token(2, 61);  // never PagedHistory::kPoison
  std::vector<std::int32_t> history(3000);
  for (std::int32_t& t : history)
    t = token(rng);
  std::vector<Case> penalized;
  auto add = [&](std::string name, double temperature, double repetition, double presence, double frequency) {
    Case c{std::move(name), {}};
    c.sp.temperature = temperature;
    c.sp.repetition_penalty = repetition;
    c.sp.presence_penalty = presence;
    c.sp.frequency_penalty = frequency;
    penalized.push_back(std::move(c));
  };
  add("repetition", 0.9, 1.4, 0.0, 0.0);
  add("presence", 0.9, 1.0, 1.5, 0.0);
  add("frequency", 0.9, 1.0, 0.0, 0.02);
  add("all, greedy", 0.0, 0.7, -0.5, 0.01);
  add("all, hot", 1.5, 1.2, 0.3, -0.01);
  const std::vector<float> logits = row(1000, 2.0f, 0.0f, 11);
  int checked = 0;
  for (const int threads : {1, 7, 64}) {
    for (const std::int32_t block_size : {1, 16, 7}) {
      for (const std::int32_t num_prompt : {1000, 2999}) {
        for (const Case& c : penalized) {
          SCOPED_TRACE(c.name + ", threads " + std::to_string(threads) + ", block " +
                       std::to_string(block_size) + ", prompt " + std::to_string(num_prompt));
          expect_same_choice(threads, c, logits, static_cast<std::uint64_t>(checked), block_size, history,
                             num_prompt);
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * 3 * 2 * static_cast<int>(penalized.size()));
}

// Penalties go to the device as parameters and the history's place; bias and
// bans as edits, one per token whatever names it.
TEST(DeviceSampleBatchTest, RowsCarryPenaltiesAndEditsAndDuplicateBiasIsRefused) {
  SamplingParams sp;
  sp.repetition_penalty = 2.0;
  sp.frequency_penalty = 0.5;
  sp.presence_penalty = 0.25;
  sp.logit_bias = {
      {3, 1.0f}, {200, 9.0f}, {kEos, -2.0f}};  // 200 is past the vocabulary: ignored, as by the Sampler
  sp.min_tokens = 4;
  sp.stop_token_ids = {8, kEos};
  const std::vector<std::int32_t> history = {3, 1, 3, 3, 1};  // prompt {3, 1}, output {3, 3, 1}
  ScheduledSequence seq;
  seq.token_ids = history;
  seq.num_prompt_tokens = 2;
  seq.num_output_tokens = 3;
  seq.sampling = &sp;
  const std::vector<std::int32_t> eos = {kEos};
  DeviceSampleBatch batch;
  ASSERT_TRUE(append_device_sample_row(seq, 6, 40, eos, 100, &batch));
  ASSERT_EQ(batch.rows.size(), 1u);
  const SampleRowParams& r = batch.rows[0];
  EXPECT_EQ(r.logits_row, 6);
  EXPECT_EQ(r.penalties.repetition, 2.0);
  EXPECT_EQ(r.penalties.presence, 0.25);
  EXPECT_EQ(r.penalties.frequency, 0.5);
  EXPECT_EQ(r.penalties.history_table, 40);
  EXPECT_EQ(r.penalties.num_history, 5);
  EXPECT_EQ(r.penalties.num_prompt, 2);
  // Tokens 2 (eos, biased and banned twice), 3 and 8: one edit each (their order is free).
  ASSERT_EQ(r.edit_end - r.edit_begin, 3);
  ASSERT_EQ(batch.edits.size(), 3u);
  auto of = [&](std::int32_t token) -> const LogitEdit& {
    const auto it = std::find_if(batch.edits.begin(), batch.edits.end(),
                                 [&](const LogitEdit& e) { return e.token == token; });
    EXPECT_NE(it, batch.edits.end()) << "no edit of token " << token;
    return it != batch.edits.end() ? *it : batch.edits.front();
  };
  EXPECT_EQ(of(kEos).flags, kEditBan);
  EXPECT_EQ(of(kEos).bias, -2.0f);
  EXPECT_EQ(of(3).flags, 0);
  EXPECT_EQ(of(3).bias, 1.0f);
  EXPECT_EQ(of(8).flags, kEditBan);
  // The Sampler's order: repetition, minus frequency * count + presence, plus bias, then the ban.
  EXPECT_EQ(edited_logit(4.0f, r.penalties, 3, &of(3)), 4.0f / 2 - 1.75f + 1.0f);
  EXPECT_EQ(edited_logit(-4.0f, r.penalties, kInPrompt | 1, nullptr), -8.0f - 0.75f);
  EXPECT_EQ(edited_logit(-4.0f, r.penalties, kInPrompt, nullptr), -8.0f);
  EXPECT_EQ(edited_logit(4.0f, r.penalties, 0, &of(kEos)), -INFINITY);

  // Without penalties the row reads no history.
  SamplingParams plain;
  plain.temperature = 0.5;
  seq.sampling = &plain;
  ASSERT_TRUE(append_device_sample_row(seq, 7, 40, eos, 100, &batch));
  EXPECT_EQ(batch.rows[1].penalties.num_history, 0);
  EXPECT_EQ(batch.rows[1].edit_begin, batch.rows[1].edit_end);

  sp.logit_bias.push_back({3, 2.0f});
  seq.sampling = &sp;
  EXPECT_FALSE(append_device_sample_row(seq, 8, 40, eos, 100, &batch));
  EXPECT_EQ(batch.rows.size(), 2u);
  EXPECT_EQ(batch.edits.size(), 3u);
}

// Which rows the device argmax, the device sampler and the host Sampler take.
TEST(DeviceSampleBatchTest, RoutingOfAStepsRows) {
  const std::vector<std::int32_t> eos = {kEos};
  const std::vector<std::int32_t> history = {5, 6, 7, 5};  // prompt {5, 6}, output {7, 5}
  SamplingParams greedy;
  greedy.temperature = 0.0;
  SamplingParams greedy_logprobs = greedy;
  greedy_logprobs.logprobs = 0;
  SamplingParams hot;
  hot.temperature = 0.9;
  hot.repetition_penalty = 1.1;                         // no edit: the device reads the history
  hot.logit_bias = {{5, 1.0f}, {6, 0.5f}, {7, -1.0f}};  // three edits
  SamplingParams twice_biased;
  twice_biased.logit_bias = {{3, 1.0f}, {3, 2.0f}};
  auto seq = [&](const SamplingParams& sp) {
    ScheduledSequence s;
    s.token_ids = history;
    s.num_prompt_tokens = 2;
    s.num_output_tokens = 2;
    s.sampling = &sp;
    return s;
  };
  const ScheduledSequence g = seq(greedy), gl = seq(greedy_logprobs), h = seq(hot), b = seq(twice_biased);
  DeviceSampleBatch batch;
  auto route = [&](std::vector<const ScheduledSequence*> rows, bool enabled,
                   std::int64_t max_edits = 1 << 18) {
    std::vector<std::int32_t> tables;  // row i's block table at 10 * i
    for (std::size_t i = 0; i < rows.size(); ++i)
      tables.push_back(static_cast<std::int32_t>(10 * i));
    return route_sampled_rows(rows, tables, enabled, eos, 100, max_edits, &batch);
  };

  SampleRouting r = route({&g, &g}, true);  // plain greedy: the argmax
  EXPECT_TRUE(r.argmax_only);
  EXPECT_FALSE(r.any_host);
  EXPECT_TRUE(batch.rows.empty());

  r = route({&g, &gl, &h}, true);  // not all plain greedy: every row to the sampler
  EXPECT_FALSE(r.argmax_only);
  EXPECT_FALSE(r.any_host);
  EXPECT_EQ(r.device_row, (std::vector<std::int32_t>{0, 1, 2}));
  ASSERT_EQ(batch.rows.size(), 3u);
  EXPECT_EQ(batch.rows[2].logits_row, 2);
  EXPECT_EQ(batch.rows[2].penalties.history_table, 20);
  EXPECT_EQ(batch.rows[2].penalties.num_history, 4);
  EXPECT_EQ(batch.edits.size(), 3u);

  r = route({&h, &b, &g}, true);  // a token biased twice: that row on the host
  EXPECT_TRUE(r.any_host);
  EXPECT_EQ(r.device_row, (std::vector<std::int32_t>{0, -1, 1}));
  EXPECT_EQ(batch.rows[1].logits_row, 2);

  r = route({&h, &h, &g}, true, 4);  // edits past the cap: the second row on the host
  EXPECT_TRUE(r.any_host);
  EXPECT_EQ(r.device_row, (std::vector<std::int32_t>{0, -1, 1}));
  EXPECT_EQ(batch.edits.size(), 3u);

  r = route({&g, &h}, false);  // device sampler off: the host, but the argmax still decides greedy steps
  EXPECT_TRUE(r.any_host);
  EXPECT_TRUE(batch.rows.empty());
  EXPECT_TRUE(route({&g}, false).argmax_only);

  r = route({}, true);
  EXPECT_FALSE(r.argmax_only);
  EXPECT_FALSE(r.any_host);
}

TEST(DeviceSampleBatchTest, OrderKeysSortLikeTheSampler) {
  const std::vector<float> v = {-INFINITY, -3.5f, -1e-30f, -0.0f, 0.0f, 1e-30f, 2.0f, INFINITY};
  for (std::size_t i = 0; i + 1 < v.size(); ++i) {
    if (v[i] == v[i + 1]) {
      EXPECT_EQ(order_key(v[i]), order_key(v[i + 1]));
    } else {
      EXPECT_LT(order_key(v[i]), order_key(v[i + 1])) << v[i] << " vs " << v[i + 1];
    }
    if (v[i] != 0.0f) {
      EXPECT_EQ(key_value(order_key(v[i])), v[i]);
    }
  }
  EXPECT_EQ(order_key(NAN), 0u);
}

// fixed_weight skips exp below kZeroWeightBelow: the weights it gives are
// exactly exp(x) * 2^40 truncated, also just either side of the skip and
// where that product crosses 1 (x = -40 ln 2).
TEST(DeviceSampleBatchTest, FixedWeightSkipsOnlyWeightsThatAreZero) {
  const double max_logit = 3.25;
  auto want = [&](float logit) -> std::uint64_t {
    const double w = std::exp(static_cast<double>(logit) - max_logit) * 0x1.0p40;
    return w >= 1.0 ? static_cast<std::uint64_t>(w) : 0;
  };
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> near_edge(-29.0f, -26.0f), anywhere(-60.0f, 0.0f);
  int nonzero = 0;
  for (int i = 0; i < 200000; ++i) {
    const float logit = static_cast<float>(max_logit) + (i % 2 == 0 ? near_edge(rng) : anywhere(rng));
    const std::uint64_t w = fixed_weight(logit, max_logit);
    ASSERT_EQ(w, want(logit)) << "logit " << logit;
    nonzero += w != 0 ? 1 : 0;
  }
  EXPECT_GT(nonzero, 50000);
  EXPECT_EQ(fixed_weight(static_cast<float>(max_logit), max_logit), std::uint64_t{1} << 40);
  EXPECT_EQ(fixed_weight(-INFINITY, max_logit), 0u);
  EXPECT_EQ(fixed_weight(NAN, max_logit), 0u);
}

}  // namespace
}  // namespace pagoda::cuda
