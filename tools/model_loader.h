// Loads what a subcommand needs from a Hugging Face model directory: config,
// checkpoint, tokenizer, chat template, and a running Engine on the chosen
// backend. Used by `generate` (and the server). Called from the main thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/chat/chat_template.h"
#include "engine/engine.h"
#include "engine/engine_loader.h"
#include "engine/model/model_config.h"
#include "engine/tokenizer/tokenizer.h"

namespace CLI {
class App;
}

namespace pagoda::tools {

// Engine flags shared by `generate` and `serve`.
struct EngineFlags {
  std::string model;  // "" = the demo model (created on first use)
  std::string device = "auto";
  int tp = 1;
  int threads = 0;
  int block_size = 16;
  std::int64_t kv_cache_bytes = 0;  // 0: the backend's default
  double gpu_memory_utilization = 0.9;
  bool enforce_eager = false;
  bool batch_invariant = false;
  double cuda_graph_budget_s = 60;
  int num_kv_blocks = 0;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 0;  // 0: the backend's default
  int max_model_len = 0;           // 0 = the model's max_position_embeddings
  int max_queued_requests = 4096;
  bool no_prefix_caching = false;
};

void add_engine_flags(CLI::App& cmd, EngineFlags& flags);

// Resolves the model directory: --model, or the demo model (written with
// make-model's tiny preset on first use).
StatusOr<std::string> resolve_model_dir(const std::string& flag);

StatusOr<std::shared_ptr<const Tokenizer>> load_tokenizer(const std::string& model_dir);

// The demo model when --model is absent, then pagoda::load_engine.
StatusOr<LoadedEngine> load_engine_from_flags(const EngineFlags& flags);

}  // namespace pagoda::tools
