// Tests of ReasoningParser: one-shot splitting, and streaming with deltas cut at every byte
// position, which must give the same result and never emit part of a tag.
#include "engine/chat/reasoning_parser.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pagoda {
namespace {

struct Case {
  const char* text;
  bool starts_in_reasoning;
  const char* reasoning;
  const char* content;
  bool ended;
};

const Case kCases[] = {
    {"<think>\nLet me think.\nStep 2.\n</think>\n\nThe answer is 4.", false, "Let me think.\nStep 2.",
     "The answer is 4.", true},
    {"The answer is 4.", false, "", "The answer is 4.", false},
    {"<think>\n\n</think>\n\nHi", false, "", "Hi", true},
    {"reasoning already open\n</think>\n\ncontent", true, "reasoning already open", "content", true},
    {"</think>\n\nonly content", true, "", "only content", true},
    {"<think>\ncut off mid-thought\n", false, "cut off mid-thought\n", "", false},
    {"<think>\ncut at a partial tag </thi", false, "cut at a partial tag </thi", "", false},
    {"Hi <think>not at the start</think>", false, "", "Hi <think>not at the start</think>", false},
    {"\n <think>x</think>y", false, "x", "y", true},
    {"<thin", false, "", "<thin", false},
    {"", false, "", "", false},
    {"<think>a < b and c </ d</think>\n\nok </think> stays", false, "a < b and c </ d", "ok </think> stays",
     true},
    {"<think>\nline\n\n\n</think>", false, "line", "", true},
    {"<think>\n\xe6\x80\x9d\xe8\x80\x83 \xf0\x9f\xa4\x94\n</think>\n\n\xe7\xad\x94", false,
     "\xe6\x80\x9d\xe8\x80\x83 \xf0\x9f\xa4\x94", "\xe7\xad\x94", true},
};

TEST(ReasoningParserTest, OneShot) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text);
    ReasoningResult r = ReasoningParser::parse(c.text, c.starts_in_reasoning);
    EXPECT_EQ(r.reasoning_content, c.reasoning);
    EXPECT_EQ(r.content, c.content);
    EXPECT_EQ(r.reasoning_ended, c.ended);
  }
}

// Streams `pieces` and checks the result equals the one-shot case.
void check_stream(const Case& c, const std::vector<std::string>& pieces) {
  ReasoningParser parser(c.starts_in_reasoning);
  std::string reasoning;
  std::string content;
  for (const std::string& p : pieces) {
    ReasoningDelta d = parser.push(p);
    reasoning += d.reasoning_delta;
    content += d.content_delta;
    // Nothing emitted so far may run past what the final result holds.
    ASSERT_EQ(std::string(c.reasoning).substr(0, reasoning.size()), reasoning);
    ASSERT_EQ(std::string(c.content).substr(0, content.size()), content);
  }
  ReasoningDelta d = parser.finish();
  EXPECT_EQ(reasoning + d.reasoning_delta, c.reasoning);
  EXPECT_EQ(content + d.content_delta, c.content);
  EXPECT_EQ(parser.reasoning_ended(), c.ended);
}

TEST(ReasoningParserTest, StreamingSplitAtEveryByte) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text);
    const std::string text = c.text;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      for (std::size_t j = i; j <= text.size(); ++j) {
        check_stream(c, {text.substr(0, i), text.substr(i, j - i), text.substr(j)});
      }
    }
    std::vector<std::string> bytes;
    for (char ch : text)
      bytes.emplace_back(1, ch);
    check_stream(c, bytes);
  }
}

TEST(ReasoningParserTest, HoldsBackOnlyWhatCouldBeATag) {
  ReasoningParser parser;
  ReasoningDelta d = parser.push("<thi");
  EXPECT_EQ(d.reasoning_delta, "");
  EXPECT_EQ(d.content_delta, "");
  d = parser.push("nk>\nabc</th");
  EXPECT_EQ(d.reasoning_delta, "abc");
  d = parser.push("ought");  // not a tag after all
  EXPECT_EQ(d.reasoning_delta, "</thought");
  d = parser.push("\n");
  EXPECT_EQ(d.reasoning_delta, "");  // a newline may precede </think>
  d = parser.push("</think>\n\nHel");
  EXPECT_EQ(d.reasoning_delta, "");
  EXPECT_EQ(d.content_delta, "Hel");
  d = parser.push("lo <");
  EXPECT_EQ(d.content_delta, "lo <");  // content is never held back
  EXPECT_TRUE(parser.reasoning_ended());
}

}  // namespace
}  // namespace pagoda
