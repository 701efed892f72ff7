// The Engine on the CUDA backend in the batch-invariant mode, run as a server
// runs it — continuous batching, chunked prefill, the prefix cache,
// preemption by recompute, decode graphs — against the same requests run one
// at a time: every sampled token and every logprob equal, bit for bit.
// Skipped without a GPU (and on the SIMT emulator every CI run).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_device.h"
#include "engine/cuda/cuda_model_runner.h"
#include "engine/engine.h"
#include "tests/engine/stream_sink.h"
#include "tests/engine/test_model.h"
#include "tests/engine/tokenizer/tokenizer_test_util.h"

namespace pagoda::cuda {
namespace {

using pagoda::testing::kShapes;
using pagoda::testing::LoadedModel;
using pagoda::testing::make_model;
using pagoda::testing::prompt_of;
using pagoda::testing::StreamSink;

constexpr int kMaxTokensPerStep = 48;
constexpr int kMaxSeqs = 16;
constexpr int kMaxModelLen = 128;

// The engine needs a tokenizer no larger than the model's 512-token
// vocabulary: the 256 byte tokens (outputs are not detokenized here).
std::shared_ptr<const Tokenizer> byte_tokenizer() {
  static const std::shared_ptr<const Tokenizer> t(
      Tokenizer::from_json(pagoda::testing::synthetic_tokenizer_json({}).dump(), "byte tokenizer").value());
  return t;
}

std::unique_ptr<Engine> invariant_engine(const LoadedModel& m, int num_kv_blocks) {
  CudaRunnerOptions o;
  o.batch_invariant = true;
  o.num_kv_blocks = num_kv_blocks;
  o.limits.block_size = 16;
  o.limits.max_tokens = kMaxTokensPerStep;
  o.limits.max_seqs = kMaxSeqs;
  o.limits.max_model_len = kMaxModelLen;
  auto runner = CudaModelRunner::create(m.config, m.checkpoint, o);
  EXPECT_TRUE(runner.ok()) << runner.status().to_string();
  if (!runner.ok()) return nullptr;
  EngineConfig ec;
  ec.scheduler.max_num_seqs = kMaxSeqs;
  ec.scheduler.max_num_batched_tokens = kMaxTokensPerStep;
  ec.scheduler.max_model_len = kMaxModelLen;
  ec.scheduler.long_prefill_token_threshold = 16;  // prompts go in chunks beside other work
  auto engine = Engine::create(std::move(runner).value(), byte_tokenizer(), ec);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

// Request i: a 20-token prefix every request shares, then its own tail;
// sampled (temperature, top_k, top_p, its own seed) with two top logprobs.
EngineRequest request(int i, int vocab) {
  EngineRequest r;
  r.prompt_token_ids = prompt_of(20, vocab, 1);
  const std::vector<std::int32_t> tail = prompt_of(3 + (i * 7) % 40, vocab, 50 + i);
  r.prompt_token_ids.insert(r.prompt_token_ids.end(), tail.begin(), tail.end());
  r.sampling.temperature = 0.8;
  r.sampling.top_k = 40;
  r.sampling.top_p = 0.95;
  r.sampling.seed = 100 + i;
  r.sampling.logprobs = 2;
  r.sampling.max_tokens = 12;
  r.sampling.ignore_eos = true;
  r.detokenize = false;
  return r;
}

void expect_same_stream(const StreamSink& got, const StreamSink& want, int i) {
  EXPECT_EQ(got.tokens, want.tokens) << "request " << i;
  ASSERT_EQ(got.logprobs.size(), want.logprobs.size()) << "request " << i;
  for (std::size_t t = 0; t < want.logprobs.size(); ++t) {
    const TokenLogprobs &g = got.logprobs[t], &w = want.logprobs[t];
    EXPECT_EQ(g.logprob, w.logprob) << "request " << i << " token " << t;
    ASSERT_EQ(g.top.size(), w.top.size()) << "request " << i << " token " << t;
    for (std::size_t k = 0; k < w.top.size(); ++k) {
      EXPECT_EQ(g.top[k].token_id, w.top[k].token_id) << "request " << i << " token " << t;
      EXPECT_EQ(g.top[k].logprob, w.top[k].logprob) << "request " << i << " token " << t;
    }
  }
}

TEST(CudaEngineTest, BatchInvariantRequestsEqualThemselvesAlone) {
  if (list_devices().empty()) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  const LoadedModel m = make_model(kShapes[1], "cuda_engine");
  const int v = m.config.vocab_size;
  constexpr int kN = 12;
  std::vector<std::unique_ptr<StreamSink>> alone;
  {
    auto engine = invariant_engine(m, 256);
    ASSERT_NE(engine, nullptr);
    for (int i = 0; i < kN; ++i) {
      alone.push_back(std::make_unique<StreamSink>());
      ASSERT_TRUE(engine->submit(request(i, v), alone.back()->callback()).ok());
      alone.back()->wait();
      ASSERT_EQ(alone.back()->tokens.size(), 12u) << "request " << i;
    }
  }
  // All at once (a roomy cache), then with a cache too small for everyone:
  // requests are preempted and recomputed.
  for (const int num_kv_blocks : {256, 12}) {
    SCOPED_TRACE(std::to_string(num_kv_blocks) + " KV blocks");
    auto engine = invariant_engine(m, num_kv_blocks);
    ASSERT_NE(engine, nullptr);
    std::vector<std::unique_ptr<StreamSink>> together;
    for (int i = 0; i < kN; ++i) {
      together.push_back(std::make_unique<StreamSink>());
      ASSERT_TRUE(engine->submit(request(i, v), together.back()->callback()).ok());
    }
    for (int i = 0; i < kN; ++i) {
      together[static_cast<std::size_t>(i)]->wait();
      expect_same_stream(*together[static_cast<std::size_t>(i)], *alone[static_cast<std::size_t>(i)], i);
    }
    const EngineStats stats = engine->stats();
    EXPECT_GT(stats.prefix_cache_hit_tokens, 0);
    if (num_kv_blocks < 256) {
      EXPECT_GT(stats.num_preemptions, 0);
    }
  }
}

}  // namespace
}  // namespace pagoda::cuda
