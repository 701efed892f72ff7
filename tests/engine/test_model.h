// Random-weight Qwen 3 test models in awkward shapes, written to the test
// temp directory, shared by the runner tests of every backend.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/checkpoint.h"
#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"
#include "tests/test_temp_dir.h"

namespace pagoda::testing {

struct Shape {
  const char* name;
  int hidden, layers, heads, kv_heads, head_dim, inter, vocab;
  bool tied;
  double yarn = 0;  // YaRN factor, 0 = none
};

// GQA ratios 1, 4, 8 and 2; head_dim 32, 64, 128; heads x head_dim != hidden;
// tied and untied; odd vocabulary; YaRN.
inline const Shape kShapes[] = {
    {"gqa1_hd32_tied", 64, 2, 4, 4, 32, 96, 512, true},
    {"gqa4_hd64_untied", 96, 2, 8, 2, 64, 160, 512, false},
    {"gqa8_hd128_untied", 128, 1, 8, 1, 128, 200, 384, false},
    {"gqa2_yarn_odd_vocab", 48, 3, 4, 2, 64, 80, 509, true, 4.0},
};

struct LoadedModel {
  ModelConfig config;
  std::shared_ptr<const Checkpoint> checkpoint;
  std::string dir;  // where the checkpoint was written (config.json, safetensors)
};

// `tag` keeps the directories of tests that may run at the same time apart.
inline LoadedModel make_model(const Shape& s, const std::string& tag = "cpu") {
  ModelConfig c = model_preset("tiny").value();
  c.hidden_size = s.hidden;
  c.num_hidden_layers = s.layers;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.intermediate_size = s.inter;
  c.vocab_size = s.vocab;
  c.tie_word_embeddings = s.tied;
  c.eos_token_ids = {s.vocab - 1};
  c.bos_token_id.reset();
  c.max_position_embeddings = 256;
  if (s.yarn > 0) {
    c.rope_scaling.type = RopeScaling::Type::kYarn;
    c.rope_scaling.factor = s.yarn;
    c.rope_scaling.original_max_position_embeddings = 16;  // so test positions cross the ramp
  }
  RandomCheckpointOptions o;
  o.config = c;
  o.seed = 11;
  o.out_dir =
      (std::filesystem::path(pagoda_test_temp_dir()) / ("pagoda_runner_" + tag + "_" + std::string(s.name)))
          .string();
  EXPECT_TRUE(write_random_checkpoint(o).ok());
  auto ckpt = Checkpoint::open(o.out_dir);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  return {c, std::make_shared<const Checkpoint>(std::move(ckpt).value()), o.out_dir};
}

inline std::vector<std::int32_t> prompt_of(int n, int vocab, int salt) {
  std::vector<std::int32_t> p;
  for (int i = 0; i < n; ++i)
    p.push_back((i * 37 + salt * 101 + 5) % (vocab - 1));
  return p;
}

}  // namespace pagoda::testing
