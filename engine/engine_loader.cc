#include "engine/engine_loader.h"

#include <filesystem>

#include "engine/cpu/cpu_model_runner.h"
#include "engine/model/checkpoint.h"

namespace pagoda {

namespace fs = std::filesystem;

StatusOr<LoadedEngine> load_engine(const EngineLoadOptions& o) {
  LoadedEngine out;
  PAGODA_ASSIGN_OR_RETURN(out.config, load_model_config(o.model_dir));
  const std::string tok_dir = o.tokenizer_dir.empty() ? o.model_dir : o.tokenizer_dir;
  const std::string tok_path = (fs::path(tok_dir) / "tokenizer.json").string();
  if (!fs::exists(tok_path))
    return not_found(tok_path + ": not found (the model directory needs its tokenizer.json)");
  PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::load(tok_path));
  out.tokenizer = std::shared_ptr<const Tokenizer>(std::move(tokenizer));
  const std::string tc = (fs::path(tok_dir) / "tokenizer_config.json").string();
  if (fs::exists(tc)) {
    StatusOr<ChatTemplate> t = ChatTemplate::from_tokenizer_config(tc);
    if (t.ok()) {
      out.chat_template.emplace(std::move(t).value());
    } else {
      out.chat_template_error = t.status();
    }
  }
  if (o.device == "cuda") {
    return unimplemented(
        "--device cuda: the CUDA backend is not available in this build yet; use --device cpu");
  }
  PAGODA_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::open(o.model_dir));
  cpu::CpuRunnerOptions ro;
  ro.tensor_parallel_size = o.tensor_parallel_size;
  ro.num_threads = o.num_threads;
  ro.block_size = o.block_size;
  ro.kv_cache_bytes = o.kv_cache_bytes;
  ro.num_kv_blocks = o.num_kv_blocks;
  PAGODA_ASSIGN_OR_RETURN(
      std::unique_ptr<cpu::CpuModelRunner> runner,
      cpu::CpuModelRunner::create(out.config, std::make_shared<const Checkpoint>(std::move(checkpoint)), ro));
  EngineConfig ec = o.engine;
  if (ec.scheduler.max_model_len <= 0) {
    ec.scheduler.max_model_len = static_cast<std::int32_t>(out.config.max_position_embeddings);
  }
  PAGODA_ASSIGN_OR_RETURN(out.engine, Engine::create(std::move(runner), out.tokenizer, ec));
  return out;
}

}  // namespace pagoda
