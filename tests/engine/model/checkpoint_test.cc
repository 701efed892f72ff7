#include "engine/model/checkpoint.h"

#include <gtest/gtest.h>

#include "tests/test_temp_dir.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "base/bf16.h"
#include "base/mapped_file.h"
#include "engine/model/expected_tensor.h"
#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"

namespace pagoda {
namespace {

namespace fs = std::filesystem;

ModelConfig small_config() {
  ModelConfig c = model_preset("tiny").value();
  c.hidden_size = 48;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.intermediate_size = 80;
  c.vocab_size = 1000;
  c.eos_token_ids = {999};
  c.bos_token_id.reset();
  c.tie_word_embeddings = false;
  return c;
}

std::string write_model(const std::string& name, const ModelConfig& c, int shards, std::uint64_t seed = 7) {
  std::string dir = (fs::path(pagoda_test_temp_dir()) / ("pagoda_ckpt_" + name)).string();
  fs::remove_all(dir);
  RandomCheckpointOptions o;
  o.config = c;
  o.seed = seed;
  o.num_shards = shards;
  o.out_dir = dir;
  Status s = write_random_checkpoint(o);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return dir;
}

std::vector<float> to_floats(const TensorView& t) {
  std::vector<float> out(static_cast<std::size_t>(t.num_elements()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (t.dtype == DType::kF32) {
      std::memcpy(&out[i], t.bytes.data() + 4 * i, 4);
    } else {
      std::uint16_t v = 0;
      std::memcpy(&v, t.bytes.data() + 2 * i, 2);
      out[i] = t.dtype == DType::kBF16 ? bf16_to_f32(v) : f16_to_f32(v);
    }
  }
  return out;
}

TEST(CheckpointTest, SingleAndShardedLoadIdenticalTensors) {
  ModelConfig c = small_config();
  std::string single = write_model("single", c, 1);
  std::string sharded = write_model("sharded", c, 4);
  EXPECT_TRUE(fs::exists(fs::path(single) / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fs::path(sharded) / "model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(fs::path(sharded) / "model-00004-of-00004.safetensors"));

  auto a = Checkpoint::open(single);
  auto b = Checkpoint::open(sharded);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->files().size(), 4u);
  auto loaded = load_model_config(sharded);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->num_hidden_layers, 3);
  ASSERT_TRUE(a->validate(c).ok()) << a->validate(c).to_string();
  ASSERT_TRUE(b->validate(*loaded).ok());
  EXPECT_EQ(a->num_tensors(), expected_tensors(c).size());
  EXPECT_EQ(a->total_tensor_bytes(), static_cast<std::uint64_t>(c.num_parameters()) * 2);
  for (const ExpectedTensor& e : expected_tensors(c)) {
    const TensorView* x = a->find(e.name);
    const TensorView* y = b->find(e.name);
    ASSERT_NE(x, nullptr);
    ASSERT_NE(y, nullptr);
    ASSERT_EQ(x->bytes.size(), y->bytes.size());
    EXPECT_EQ(std::memcmp(x->bytes.data(), y->bytes.data(), x->bytes.size()), 0) << e.name;
  }
}

TEST(CheckpointTest, DeterministicBySeed) {
  ModelConfig c = small_config();
  auto a = Checkpoint::open(write_model("seed7a", c, 1, 7)).value();
  auto b = Checkpoint::open(write_model("seed7b", c, 1, 7)).value();
  auto d = Checkpoint::open(write_model("seed8", c, 1, 8)).value();
  const char* name = "model.layers.1.mlp.up_proj.weight";
  EXPECT_EQ(std::memcmp(a.find(name)->bytes.data(), b.find(name)->bytes.data(), a.find(name)->bytes.size()),
            0);
  EXPECT_NE(std::memcmp(a.find(name)->bytes.data(), d.find(name)->bytes.data(), a.find(name)->bytes.size()),
            0);
}

// Weights are scaled for real logit spread: embedding std 1, projections
// 1/sqrt(fan_in), norms around 1.
TEST(CheckpointTest, WeightStatistics) {
  ModelConfig c = small_config();
  c.dtype = DType::kF32;
  auto ckpt = Checkpoint::open(write_model("stats", c, 1)).value();
  auto stats = [&](const char* name) {
    std::vector<float> v = to_floats(*ckpt.find(name));
    double mean = 0, sq = 0;
    for (float x : v)
      mean += x;
    mean /= static_cast<double>(v.size());
    for (float x : v)
      sq += (x - mean) * (x - mean);
    return std::pair{mean, std::sqrt(sq / static_cast<double>(v.size()))};
  };
  auto [em, es] = stats("model.embed_tokens.weight");  // untied: std 1
  EXPECT_NEAR(em, 0.0, 0.02);
  EXPECT_NEAR(es, 1.0, 0.02);
  auto [dm, ds] = stats("model.layers.0.mlp.down_proj.weight");  // fan_in = 80
  EXPECT_NEAR(ds, 1.0 / std::sqrt(80.0), 0.01);
  auto [nm, ns] = stats("model.layers.2.input_layernorm.weight");
  EXPECT_NEAR(nm, 1.0, 0.05);
  EXPECT_EQ(ckpt.find("model.embed_tokens.weight")->dtype, DType::kF32);
}

TEST(CheckpointTest, ValidateNamesMissingTensorAndWrongShape) {
  ModelConfig c = small_config();
  auto ckpt = Checkpoint::open(write_model("validate", c, 1)).value();
  ModelConfig deeper = c;
  deeper.num_hidden_layers = 4;
  Status s = ckpt.validate(deeper);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("missing tensor 'model.layers.3.input_layernorm.weight'"), std::string::npos)
      << s.message();
  ModelConfig wider = c;
  wider.intermediate_size = 96;
  s = ckpt.validate(wider);
  EXPECT_NE(
      s.message().find("'model.layers.0.mlp.gate_proj.weight' has shape [80, 48] but config.json implies "
                       "[96, 48]"),
      std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("model.safetensors"), std::string::npos);
}

TEST(CheckpointTest, BadIndexIsRefused) {
  ModelConfig c = small_config();
  std::string dir = write_model("badindex", c, 2);
  std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  std::string index = read_file(index_path).value();

  auto with_index = [&](const std::string& text) {
    EXPECT_TRUE(write_file(index_path, text).ok());
    return Checkpoint::open(dir);
  };
  // A shard name that escapes the model directory.
  std::string traversal = index;
  traversal.replace(traversal.find("model-00002-of-00002.safetensors"), 32, "../../../../etc/passwd");
  auto r = with_index(traversal);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("invalid file name"), std::string::npos) << r.status().message();

  // A tensor the index places in the wrong shard.
  std::string moved = index;
  const std::string where = "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"";
  auto pos = moved.find(where);
  ASSERT_NE(pos, std::string::npos) << index;
  moved.replace(pos, where.size(), "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"");
  r = with_index(moved);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'model.norm.weight'"), std::string::npos) << r.status().message();

  // A shard the index names but that does not exist.
  std::string missing = index;
  missing.replace(missing.find("model-00002-of-00002.safetensors"), 32, "model-00009-of-00009.safetensors");
  r = with_index(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("model-00009-of-00009.safetensors"), std::string::npos);

  r = with_index("{\"weight_map\": 5}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("field 'weight_map'"), std::string::npos);

  ASSERT_TRUE(write_file(index_path, index).ok());
  EXPECT_TRUE(Checkpoint::open(dir).ok());
}

TEST(CheckpointTest, EmptyDirectory) {
  std::string dir = (fs::path(pagoda_test_temp_dir()) / "pagoda_empty_model").string();
  fs::create_directories(dir);
  auto r = Checkpoint::open(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("no model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace pagoda
