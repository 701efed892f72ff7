// Tests of ToolCallParser: Qwen/Hermes <tool_call> blocks, one-shot and streamed with deltas cut at
// every byte position; malformed blocks stay in the content.
#include "engine/chat/tool_call_parser.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pagoda {
namespace {

struct Call {
  const char* name;
  const char* arguments;
};

struct Case {
  const char* text;
  const char* content;
  std::vector<Call> calls;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      {"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": "
       "\"c\"}}\n</tool_call>",
       "",
       {{"get_weather", R"({"city":"Paris","unit":"c"})"}}},
      {"Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": "
       "{}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", "
       "\"arguments\": {\"z\": [1, 2.5, null], \"y\": \"\xc3\xa9\"}}\n</tool_call>",
       "Let me check.",
       {{"a", "{}"}, {"b", R"({"z":[1,2.5,null],"y":"é"})"}}},
      {"<tool_call>\n{\"name\": \"s\", \"arguments\": \"{\\\"q\\\": 1}\"}\n</tool_call>",
       "",
       {{"s", R"({"q": 1})"}}},
      {"<tool_call>{\"name\": \"noargs\"}</tool_call>", "", {{"noargs", "{}"}}},
      {"No tools here, just <b>text</b> and a < sign.", "No tools here, just <b>text</b> and a < sign.", {}},
      {"Bad:\n<tool_call>\n{not json}\n</tool_call>", "Bad:\n<tool_call>\n{not json}\n</tool_call>", {}},
      {"<tool_call>\n{\"arguments\": {}}\n</tool_call>",
       "<tool_call>\n{\"arguments\": {}}\n</tool_call>",
       {}},
      {"<tool_call>\n{\"name\": \"x\", \"arguments\": [1]}\n</tool_call>",
       "<tool_call>\n{\"name\": \"x\", \"arguments\": [1]}\n</tool_call>",
       {}},
      {"Cut: <tool_call>\n{\"name\": \"x\", \"argu", "Cut: <tool_call>\n{\"name\": \"x\", \"argu", {}},
      {"<tool_call>\n{\"name\": \"a\"}\n</tool_call>\nDone.", "Done.", {{"a", "{}"}}},
      {"<tool_call>{\"name\": \"a\"}</tool_call> <tool_call>oops</tool_call>",
       "<tool_call>oops</tool_call>",
       {{"a", "{}"}}},
      {"trailing space stays \n", "trailing space stays \n", {}},
      {"<tool_call", "<tool_call", {}},
      {"", "", {}},
  };
  return kCases;
}

void expect_calls(const std::vector<ToolCall>& got, const std::vector<Call>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].id, "call_" + std::to_string(i));
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].arguments, want[i].arguments);
  }
}

TEST(ToolCallParserTest, OneShot) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.text);
    ToolCallResult r = ToolCallParser::parse(c.text);
    EXPECT_EQ(r.content, c.content);
    expect_calls(r.calls, c.calls);
  }
}

void check_stream(const Case& c, const std::vector<std::string>& pieces) {
  ToolCallParser parser;
  std::string content;
  std::vector<ToolCall> calls;
  for (const std::string& p : pieces) {
    ToolCallDelta d = parser.push(p);
    content += d.content_delta;
    ASSERT_EQ(std::string(c.content).substr(0, content.size()), content);
    for (auto& call : d.calls)
      calls.push_back(std::move(call));
  }
  ToolCallDelta d = parser.finish();
  content += d.content_delta;
  for (auto& call : d.calls)
    calls.push_back(std::move(call));
  EXPECT_EQ(content, c.content);
  expect_calls(calls, c.calls);
}

TEST(ToolCallParserTest, StreamingSplitAtEveryByte) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.text);
    const std::string text = c.text;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      for (std::size_t j = i; j <= text.size(); j += 3) {
        check_stream(c, {text.substr(0, i), text.substr(i, j - i), text.substr(j)});
      }
    }
    std::vector<std::string> bytes;
    for (char ch : text)
      bytes.emplace_back(1, ch);
    check_stream(c, bytes);
  }
}

TEST(ToolCallParserTest, CallIsEmittedWhenItsClosingTagArrives) {
  const std::string text = "Hi\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>";
  ToolCallParser parser;
  for (std::size_t i = 0; i < text.size(); ++i) {
    ToolCallDelta d = parser.push(text.substr(i, 1));
    EXPECT_EQ(d.calls.size(), i + 1 == text.size() ? 1u : 0u) << i;
  }
  EXPECT_EQ(parser.num_calls(), 1u);
}

TEST(ToolCallParserTest, OptionsAndLimits) {
  ToolCallParser::Options options;
  options.id_prefix = "call_req7_";
  ToolCallResult r = ToolCallParser::parse(
      "<tool_call>{\"name\": \"a\"}</tool_call><tool_call>{\"name\": \"b\"}</tool_call>", options);
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[1].id, "call_req7_1");

  // Absurdly nested arguments are refused (kept as content) rather than parsed recursively.
  std::string deep = "<tool_call>{\"name\": \"a\", \"arguments\": {\"x\": " + std::string(1000, '[') +
                     std::string(1000, ']') + "}}</tool_call>";
  r = ToolCallParser::parse(deep);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, deep);

  options.max_block_bytes = 16;
  r = ToolCallParser::parse("<tool_call>{\"name\": \"a_long_name\"}</tool_call>", options);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "<tool_call>{\"name\": \"a_long_name\"}</tool_call>");
}

}  // namespace
}  // namespace pagoda
