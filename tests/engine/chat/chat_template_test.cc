// Tests of ChatTemplate's API: loading from tokenizer_config.json, validation of messages and tools,
// options (generation prompt, enable_thinking, extra kwargs) and error reporting.
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/chat/chat_template.h"

namespace pagoda {
namespace {

using Json = nlohmann::ordered_json;

const std::string kConfigPath =
    std::string(PAGODA_SOURCE_DIR) + "/tests/data/chat/qwen3_tokenizer_config.json";

ChatTemplate qwen() {
  auto t = ChatTemplate::from_tokenizer_config(kConfigPath);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(t).value();
}

Json user(const std::string& text) {
  return Json{{"role", "user"}, {"content", text}};
}

TEST(ChatTemplateTest, LoadsQwenConfig) {
  ChatTemplate t = qwen();
  EXPECT_EQ(t.eos_token(), "<|im_end|>");
  EXPECT_EQ(t.bos_token(), "");  // null in Qwen's config
  ChatTemplateOptions options;
  options.add_generation_prompt = true;
  auto out = t.render(Json::array({user("Hi")}), Json(), options);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  options.enable_thinking = false;
  out = t.render(Json::array({user("Hi")}), Json(), options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(ChatTemplateTest, ContentPartsAreJoined) {
  Json messages = Json::array({Json{{"role", "user"},
                                    {"content", Json::array({Json{{"type", "text"}, {"text", "a"}},
                                                             Json{{"type", "text"}, {"text", "b"}}})}}});
  auto out = qwen().render(messages, Json(), {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "<|im_start|>user\na\nb<|im_end|>\n");
}

TEST(ChatTemplateTest, RejectsMalformedMessages) {
  ChatTemplate t = qwen();
  struct Bad {
    Json messages;
    Json tools;
    const char* fragment;
  };
  const Bad cases[] = {
      {Json::object(), Json(), "messages must be an array"},
      {Json::array({"hi"}), Json(), "messages[0] must be an object"},
      {Json::array({Json{{"content", "x"}}}), Json(), "messages[0] needs a string \"role\""},
      {Json::array({Json{{"role", 1}, {"content", "x"}}}), Json(), "needs a string \"role\""},
      {Json::array({user("ok"), Json{{"role", "user"}, {"content", 5}}}), Json(),
       "messages[1].content must be"},
      {Json::array({Json{{"role", "user"}, {"content", Json::array({Json{{"type", "image_url"}}})}}}), Json(),
       "only text content"},
      {Json::array({Json{{"role", "user"}, {"content", Json::array({Json{{"type", "text"}}})}}}), Json(),
       "needs a string \"text\""},
      {Json::array({user("x")}), Json::object(), "tools must be null or an array"},
      {Json::array({user("x")}), Json::array({"not an object"}), "tools[0] must be an object"},
      {Json::array({user("\xff")}), Json(), "not valid UTF-8"},
  };
  for (const Bad& c : cases) {
    auto out = t.render(c.messages, c.tools, {});
    ASSERT_FALSE(out.ok()) << c.fragment;
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find(c.fragment), std::string::npos) << out.status().message();
  }
  // Deeply nested input is refused before it reaches the interpreter.
  Json deep = "x";
  for (int i = 0; i < 200; ++i)
    deep = Json::array({deep});
  auto out = t.render(Json::array({Json{{"role", "user"}, {"content", "x"}, {"extra", deep}}}), Json(), {});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("nested deeper"), std::string::npos);
}

TEST(ChatTemplateTest, TemplateErrorsComeBackAsStatus) {
  // Qwen's template indexes messages[0]: jinja2 raises UndefinedError on an empty conversation.
  auto out = qwen().render(Json::array(), Json(), {});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("UndefinedError"), std::string::npos) << out.status().message();

  auto syntax = ChatTemplate::from_source("{% for m in messages %}{{ m.content }", "", "");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(syntax.status().message().find("syntax error at line 1"), std::string::npos)
      << syntax.status().message();

  auto raising = ChatTemplate::from_source(
      "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% "
      "endif %}",
      "", "");
  ASSERT_TRUE(raising.ok());
  out = raising->render(Json::array({Json{{"role", "assistant"}, {"content", "x"}}}), Json(), {});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "template raised an exception: first message must be from the user");
}

TEST(ChatTemplateTest, ContextVariables) {
  auto t = ChatTemplate::from_source(
      "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ enable_thinking is defined }}|{{ tools "
      "}}|"
      "{{ custom }}|{{ messages | length }}",
      "<s>", "</s>");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ChatTemplateOptions options;
  options.extra_context = Json{{"custom", "c"}};
  auto out = t->render(Json::array({user("x")}), Json(), options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<s>|</s>|False|False|None|c|1");
  options.enable_thinking = true;
  options.add_generation_prompt = true;
  out = t->render(Json::array({user("x")}), Json::array(), options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<s>|</s>|True|True|[]|c|1");

  options.extra_context = Json{{"messages", 1}};
  out = t->render(Json::array({user("x")}), Json(), options);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("may not set \"messages\""), std::string::npos);
}

TEST(ChatTemplateTest, TokenizerConfigVariants) {
  Json config = {
      {"bos_token", Json{{"content", "<s>"}, {"lstrip", false}}},
      {"eos_token", "</s>"},
      {"chat_template", Json::array({Json{{"name", "default"}, {"template", "D{{ bos_token }}"}},
                                     Json{{"name", "tool_use"}, {"template", "T{{ tools | length }}"}}})}};
  auto t = ChatTemplate::from_tokenizer_config_json(config);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(*t->render(Json::array(), Json(), {}), "D<s>");
  EXPECT_EQ(*t->render(Json::array(), Json::array({Json::object()}), {}), "T1");

  EXPECT_EQ(ChatTemplate::from_tokenizer_config_json(Json{{"eos_token", "x"}}).status().code(),
            StatusCode::kNotFound);
  auto no_default = ChatTemplate::from_tokenizer_config_json(
      Json{{"chat_template", Json::array({Json{{"name", "rag"}, {"template", "x"}}})}});
  ASSERT_FALSE(no_default.ok());
  EXPECT_NE(no_default.status().message().find("has: rag"), std::string::npos);
  EXPECT_FALSE(ChatTemplate::from_tokenizer_config_json(Json{{"chat_template", 5}}).ok());
  EXPECT_FALSE(ChatTemplate::from_tokenizer_config_json(Json{{"chat_template", "{% if %}"}}).ok());

  EXPECT_EQ(ChatTemplate::from_tokenizer_config("/nonexistent/tokenizer_config.json").status().code(),
            StatusCode::kNotFound);
  const std::string path = std::string(PAGODA_BINARY_DIR) + "/chat_template_test_bad_config.json";
  std::ofstream(path) << "{ not json";
  auto bad = ChatTemplate::from_tokenizer_config(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not valid JSON"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pagoda
