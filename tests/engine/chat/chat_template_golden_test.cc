// Renders every conversation of tests/data/chat/conversations.json with Qwen 3's chat template and
// compares byte for byte with tests/data/chat/golden.json, which jinja2 rendered (the ground truth
// transformers uses; regenerate with tools/golden/chat/make_golden.py).
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/chat/chat_template.h"

namespace pagoda {
namespace {

nlohmann::ordered_json load(const std::string& relative) {
  std::ifstream in(std::string(PAGODA_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::ordered_json::parse(ss.str());
}

TEST(ChatTemplateGoldenTest, MatchesJinja2OnEveryConversation) {
  auto tmpl = ChatTemplate::from_tokenizer_config(std::string(PAGODA_SOURCE_DIR) +
                                                  "/tests/data/chat/qwen3_tokenizer_config.json");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().to_string();
  nlohmann::ordered_json conversations = load("tests/data/chat/conversations.json");
  nlohmann::ordered_json golden = load("tests/data/chat/golden.json");
  ASSERT_EQ(conversations.size(), golden.size());
  ASSERT_GE(conversations.size(), 25u);
  int num_outputs = 0;
  int num_errors = 0;
  for (std::size_t i = 0; i < conversations.size(); ++i) {
    const auto& conv = conversations[i];
    const auto& want = golden[i];
    const std::string name = conv["name"].get<std::string>();
    SCOPED_TRACE(name);
    ASSERT_EQ(want["name"], conv["name"]);
    ChatTemplateOptions options;
    options.add_generation_prompt = conv["add_generation_prompt"].get<bool>();
    if (conv.contains("enable_thinking")) options.enable_thinking = conv["enable_thinking"].get<bool>();
    if (conv.contains("extra_context")) options.extra_context = conv["extra_context"];
    nlohmann::ordered_json tools = conv.contains("tools") ? conv["tools"] : nlohmann::ordered_json();
    StatusOr<std::string> got = tmpl->render(conv["messages"], tools, options);
    if (want.contains("error")) {
      EXPECT_FALSE(got.ok()) << "jinja2 failed with " << want["error"] << " but we rendered:\n" << *got;
      if (!got.ok()) {
        EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << got.status().to_string();
      }
      ++num_errors;
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(*got, want["output"].get<std::string>());
    ++num_outputs;
  }
  EXPECT_GE(num_outputs, 25);
  EXPECT_GE(num_errors, 1);
}

}  // namespace
}  // namespace pagoda
