#include "engine/model/model_config.h"

#include <gtest/gtest.h>

#include "engine/model/model_preset.h"

namespace pagoda {
namespace {

// Qwen/Qwen3-0.6B's config.json as published.
constexpr const char* kQwen3_0_6B = R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
  "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
  "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
  "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
  "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936})";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(ModelConfigTest, ParsesQwen3_0_6B) {
  auto c = parse_model_config(kQwen3_0_6B, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->hidden_size, 1024);
  EXPECT_EQ(c->num_hidden_layers, 28);
  EXPECT_EQ(c->num_attention_heads, 16);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->q_size(), 2048);  // differs from hidden_size
  EXPECT_EQ(c->intermediate_size, 3072);
  EXPECT_EQ(c->vocab_size, 151936);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kNone);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->dtype, DType::kBF16);
  EXPECT_EQ(c->eos_token_ids, std::vector<std::int32_t>{151645});
  EXPECT_EQ(c->bos_token_id, 151643);
  // Qwen3-0.6B has 0.6B parameters with the embedding tied (596M).
  EXPECT_NEAR(static_cast<double>(c->num_parameters()), 596e6, 2e6);
}

TEST(ModelConfigTest, PresetRoundTripsThroughJson) {
  for (const std::string& name : model_preset_names()) {
    ModelConfig p = model_preset(name).value();
    auto back = parse_model_config(model_config_to_json(p), name);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status().to_string();
    EXPECT_EQ(back->hidden_size, p.hidden_size);
    EXPECT_EQ(back->head_dim, p.head_dim);
    EXPECT_EQ(back->tie_word_embeddings, p.tie_word_embeddings);
    EXPECT_EQ(back->eos_token_ids, p.eos_token_ids);
  }
  // Published sizes: 8B has 8.2B parameters, untied.
  EXPECT_NEAR(static_cast<double>(model_preset("8b")->num_parameters()), 8.19e9, 0.02e9);
  EXPECT_NEAR(static_cast<double>(model_preset("32b")->num_parameters()), 32.8e9, 0.1e9);
}

TEST(ModelConfigTest, YarnRopeScaling) {
  std::string text = replace(kQwen3_0_6B, R"("rope_scaling": null)",
                             R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                 "original_max_position_embeddings": 32768})");
  auto c = parse_model_config(text, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kYarn);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(c->rope_scaling.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling.beta_slow, 1.0);
}

TEST(ModelConfigTest, TransformersV5RopeParametersAndDtype) {
  std::string text = replace(kQwen3_0_6B, R"("rope_theta": 1000000,)", "");
  text = replace(text, R"("rope_scaling": null)",
                 R"("rope_parameters": {"rope_type": "default", "rope_theta": 5e5})");
  text = replace(text, R"("torch_dtype": "bfloat16")", R"("dtype": "float16")");
  auto c = parse_model_config(text, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_DOUBLE_EQ(c->rope_theta, 5e5);
  EXPECT_EQ(c->dtype, DType::kF16);
}

TEST(ModelConfigTest, HuggingFaceDefaultsForOptionalFields) {
  auto c = parse_model_config(R"({"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 96, "vocab_size": 100})",
                              "config.json");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->num_key_value_heads, 4);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_FALSE(c->tie_word_embeddings);
}

TEST(ModelConfigTest, GenerationConfigMergesEosAndDefaults) {
  ModelConfig c = parse_model_config(kQwen3_0_6B, "config.json").value();
  ASSERT_TRUE(apply_generation_config(R"({"eos_token_id": [151645, 151643], "temperature": 0.6,
      "top_k": 20, "top_p": 0.95})",
                                      "generation_config.json", c)
                  .ok());
  EXPECT_EQ(c.eos_token_ids, (std::vector<std::int32_t>{151645, 151643}));
  EXPECT_DOUBLE_EQ(*c.generation.temperature, 0.6);
  EXPECT_EQ(*c.generation.top_k, 20);
  // As requests start from them: the checkpoint's fields, the rest SamplingParams' own.
  const SamplingParams sp = c.generation.sampling();
  EXPECT_DOUBLE_EQ(sp.temperature, 0.6);
  EXPECT_EQ(sp.top_k, 20);
  EXPECT_DOUBLE_EQ(sp.top_p, 0.95);
  EXPECT_DOUBLE_EQ(sp.min_p, SamplingParams{}.min_p);
  Status bad = apply_generation_config(R"({"eos_token_id": 999999})", "generation_config.json", c);
  EXPECT_NE(bad.message().find("generation_config.json: field 'eos_token_id'"), std::string::npos)
      << bad.message();
}

struct BadConfigCase {
  const char* name;
  const char* from;
  const char* to;
  const char* expected_message;  // substring
  StatusCode code = StatusCode::kInvalidArgument;
};

class BadConfigTest : public testing::TestWithParam<BadConfigCase> {};

TEST_P(BadConfigTest, ErrorNamesFileAndField) {
  const BadConfigCase& p = GetParam();
  auto c = parse_model_config(replace(kQwen3_0_6B, p.from, p.to), "/models/x/config.json");
  ASSERT_FALSE(c.ok()) << p.name;
  EXPECT_EQ(c.status().code(), p.code) << c.status().to_string();
  EXPECT_NE(c.status().message().find(p.expected_message), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("/models/x/config.json"), std::string::npos) << c.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    testing::Values(
        BadConfigCase{"missing_hidden", R"("hidden_size": 1024,)", "", "field 'hidden_size': missing"},
        BadConfigCase{"string_layers", R"("num_hidden_layers": 28)", R"("num_hidden_layers": "28")",
                      "field 'num_hidden_layers': expected an integer"},
        BadConfigCase{"zero_heads", R"("num_attention_heads": 16)", R"("num_attention_heads": 0)",
                      "field 'num_attention_heads': out of range"},
        BadConfigCase{"kv_not_dividing", R"("num_key_value_heads": 8)", R"("num_key_value_heads": 6)",
                      "field 'num_key_value_heads': 6 does not divide num_attention_heads 16"},
        BadConfigCase{"odd_head_dim", R"("head_dim": 128)", R"("head_dim": 127)",
                      "field 'head_dim': must be even"},
        BadConfigCase{"moe", R"(["Qwen3ForCausalLM"])", R"(["Qwen3MoeForCausalLM"])",
                      "architecture Qwen3MoeForCausalLM", StatusCode::kUnimplemented},
        BadConfigCase{"llama", R"(["Qwen3ForCausalLM"])", R"(["LlamaForCausalLM"])",
                      "architecture LlamaForCausalLM is not supported", StatusCode::kUnimplemented},
        BadConfigCase{"dtype", R"("torch_dtype": "bfloat16")", R"("torch_dtype": "int4")",
                      "field 'torch_dtype': unsupported dtype 'int4'"},
        BadConfigCase{"eos_outside_vocab", R"("eos_token_id": 151645)", R"("eos_token_id": 200000)",
                      "field 'eos_token_id'"},
        BadConfigCase{"negative_eps", R"("rms_norm_eps": 1e-06)", R"("rms_norm_eps": -1)",
                      "field 'rms_norm_eps'"},
        BadConfigCase{"huge_dim", R"("intermediate_size": 3072)", R"("intermediate_size": 99999999999)",
                      "field 'intermediate_size': out of range"},
        BadConfigCase{"act", R"("hidden_act": "silu")", R"("hidden_act": "gelu")", "field 'hidden_act'"},
        BadConfigCase{"sliding", R"("use_sliding_window": false)", R"("use_sliding_window": true)",
                      "field 'use_sliding_window'"},
        BadConfigCase{"rope_type", R"("rope_scaling": null)", R"("rope_scaling": {"rope_type": "longrope"})",
                      "rope type 'longrope' is not supported", StatusCode::kUnimplemented},
        BadConfigCase{"yarn_without_factor", R"("rope_scaling": null)",
                      R"("rope_scaling": {"rope_type": "yarn"})", "rope_scaling: field 'factor': missing"},
        BadConfigCase{"not_json", R"("vocab_size": 151936})", R"("vocab_size": 151936)", "not valid JSON"}),
    [](const testing::TestParamInfo<BadConfigCase>& param_info) {
      return std::string(param_info.param.name);
    });

// Found by the config fuzzer: a non-string model_type used to throw.
TEST(ModelConfigTest, NonStringModelTypeIsAnErrorNotACrash) {
  auto c = parse_model_config(R"({"model_type": null, "hidden_size": 64})", "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("field 'architectures': missing"), std::string::npos)
      << c.status().message();
  c = parse_model_config(replace(kQwen3_0_6B, R"("model_type": "qwen3")", R"("model_type": [1])"),
                         "config.json");
  EXPECT_TRUE(c.ok()) << c.status().to_string();  // architectures decides
}

TEST(ModelConfigTest, LoadFromMissingDirectoryNamesPath) {
  auto c = load_model_config("/nonexistent/model");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/model/config.json"), std::string::npos);
}

}  // namespace
}  // namespace pagoda
