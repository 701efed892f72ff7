// `pagoda make-model`: writes a random-weight Qwen 3 checkpoint in Hugging Face
// layout from a preset or explicit shape flags.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"
#include "tools/command.h"
#include "tools/data_dirs.h"

namespace pagoda::tools {
namespace {

struct MakeModelFlags {
  std::string preset = "tiny";
  std::string out;
  std::uint64_t seed = 0;
  int shards = 1;
  std::string dtype = "bfloat16";
  std::string tokenizer_dir;
  bool no_tokenizer = false;
  double logit_std = 4.0;
  // Shape overrides; 0 / unset keeps the preset's value.
  int hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0, intermediate_size = 0,
      vocab_size = 0;
  std::int64_t max_position_embeddings = 0;
  double rope_theta = 0;
  double yarn_factor = 0;
  bool tie = false;
  bool no_tie = false;
};

int run(const MakeModelFlags& f) {
  auto preset = model_preset(f.preset);
  if (!preset.ok()) {
    std::fprintf(stderr, "pagoda make-model: --preset: %s\n", preset.status().message().c_str());
    return 2;
  }
  ModelConfig c = std::move(preset).value();
  if (f.hidden_size) c.hidden_size = f.hidden_size;
  if (f.num_layers) c.num_hidden_layers = f.num_layers;
  if (f.num_heads) c.num_attention_heads = f.num_heads;
  if (f.num_kv_heads) c.num_key_value_heads = f.num_kv_heads;
  if (f.head_dim) c.head_dim = f.head_dim;
  if (f.intermediate_size) c.intermediate_size = f.intermediate_size;
  if (f.vocab_size) {
    c.vocab_size = f.vocab_size;
    c.eos_token_ids.erase(std::remove_if(c.eos_token_ids.begin(), c.eos_token_ids.end(),
                                         [&](std::int32_t id) { return id >= c.vocab_size; }),
                          c.eos_token_ids.end());
    if (c.bos_token_id && *c.bos_token_id >= c.vocab_size) c.bos_token_id.reset();
  }
  if (f.max_position_embeddings) c.max_position_embeddings = f.max_position_embeddings;
  if (f.rope_theta > 0) c.rope_theta = f.rope_theta;
  if (f.tie) c.tie_word_embeddings = true;
  if (f.no_tie) c.tie_word_embeddings = false;
  if (f.yarn_factor > 0) {
    c.rope_scaling.type = RopeScaling::Type::kYarn;
    c.rope_scaling.factor = f.yarn_factor;
    c.rope_scaling.original_max_position_embeddings = c.max_position_embeddings;
    c.max_position_embeddings =
        static_cast<std::int64_t>(static_cast<double>(c.max_position_embeddings) * f.yarn_factor);
  }
  auto dtype = dtype_from_torch_name(f.dtype);
  if (!dtype) {
    std::fprintf(stderr, "pagoda make-model: --dtype: '%s' is not one of bfloat16, float16, float32\n",
                 f.dtype.c_str());
    return 2;
  }
  c.dtype = *dtype;

  RandomCheckpointOptions o;
  o.config = c;
  o.seed = f.seed;
  o.num_shards = f.shards;
  o.out_dir = f.out;
  o.logit_std = f.logit_std;
  if (!f.no_tokenizer) {
    if (!f.tokenizer_dir.empty()) {
      o.tokenizer_dir = f.tokenizer_dir;
    } else {
      auto dir = find_tokenizer_dir();
      if (!dir.ok()) {
        std::fprintf(stderr, "pagoda make-model: %s\n", dir.status().message().c_str());
        return 1;
      }
      o.tokenizer_dir = *dir;
    }
  }
  auto start = std::chrono::steady_clock::now();
  Status s = write_random_checkpoint(o);
  if (!s.ok()) {
    std::fprintf(stderr, "pagoda make-model: %s\n", s.message().c_str());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: %s-shaped Qwen 3, %.1fM parameters (%s), %d shard(s), seed %llu, in %.1f s\n",
              f.out.c_str(), f.preset.c_str(), static_cast<double>(c.num_parameters()) / 1e6, f.dtype.c_str(),
              f.shards, static_cast<unsigned long long>(f.seed), secs);
  return 0;
}

}  // namespace

void add_make_model_command(CLI::App& app) {
  auto flags = std::make_shared<MakeModelFlags>();
  CLI::App* cmd =
      app.add_subcommand("make-model", "Write a random-weight Qwen 3 checkpoint in Hugging Face layout");
  std::string presets;
  for (const auto& n : model_preset_names())
    presets += (presets.empty() ? "" : ", ") + n;
  cmd->add_option("--preset", flags->preset, "Model shape: " + presets)->capture_default_str();
  cmd->add_option("--out,-o", flags->out, "Output directory (created)")->required();
  cmd->add_option("--seed", flags->seed, "Random seed; the same seed gives the same weights")
      ->capture_default_str();
  cmd->add_option("--shards", flags->shards, "Number of safetensors files (> 1 writes an index)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--dtype", flags->dtype, "bfloat16, float16 or float32")->capture_default_str();
  cmd->add_option("--tokenizer-dir", flags->tokenizer_dir,
                  "Copy tokenizer.json/tokenizer_config.json from here");
  cmd->add_flag("--no-tokenizer", flags->no_tokenizer, "Write weights and config only");
  cmd->add_option("--logit-std", flags->logit_std, "Target standard deviation of the logits")
      ->capture_default_str();
  cmd->add_option("--hidden-size", flags->hidden_size, "Override hidden_size")->check(CLI::PositiveNumber);
  cmd->add_option("--num-layers", flags->num_layers, "Override num_hidden_layers")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--num-heads", flags->num_heads, "Override num_attention_heads")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--num-kv-heads", flags->num_kv_heads, "Override num_key_value_heads")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--head-dim", flags->head_dim, "Override head_dim")->check(CLI::PositiveNumber);
  cmd->add_option("--intermediate-size", flags->intermediate_size, "Override intermediate_size")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--vocab-size", flags->vocab_size, "Override vocab_size")->check(CLI::PositiveNumber);
  cmd->add_option("--max-position-embeddings", flags->max_position_embeddings,
                  "Override max_position_embeddings")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rope-theta", flags->rope_theta, "Override rope_theta")->check(CLI::PositiveNumber);
  cmd->add_option("--yarn-factor", flags->yarn_factor, "Add YaRN rope scaling with this factor")
      ->check(CLI::Range(1.0, 64.0));
  CLI::Option* tie =
      cmd->add_flag("--tie", flags->tie, "Tie lm_head to the embedding (default: the preset's choice)");
  cmd->add_flag("--no-tie", flags->no_tie, "Write a separate lm_head")->excludes(tie);
  cmd->callback([flags] {
    int rc = run(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::tools
