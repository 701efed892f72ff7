// Tests of the pre-tokenizer splitters: QwenSplitter (hand-written) against
// RegexSplitter (PCRE2 running the same pattern, after the Oniguruma -> PCRE2
// rewrite of \s), on hand-picked cases and random strings.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/qwen_splitter.h"
#include "engine/tokenizer/regex_splitter.h"

namespace pagoda {
namespace {

std::vector<std::string> pieces(const Splitter& s, const std::string& text) {
  std::vector<TextSpan> matches;
  s.find_matches(text, matches);
  std::vector<std::string> out;
  for (const TextSpan& m : matches)
    out.push_back(text.substr(m.begin, m.end - m.begin));
  return out;
}

const RegexSplitter& pcre_qwen() {
  static const auto splitter = RegexSplitter::create(QwenSplitter::kPattern);
  EXPECT_TRUE(splitter.ok()) << splitter.status().to_string();
  return **splitter;
}

using Pieces = std::vector<std::string>;

TEST(QwenSplitterTest, HandPickedCases) {
  const QwenSplitter q;
  EXPECT_EQ(pieces(q, "Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(pieces(q, "I'M here"), (Pieces{"I", "'M", " here"}));
  EXPECT_EQ(pieces(q, "they'LL 'Re"), (Pieces{"they", "'LL", " '", "Re"}));
  EXPECT_EQ(pieces(q, "12345"), (Pieces{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(pieces(q, "  \n\n  x"), (Pieces{"  \n\n", " ", " x"}));
  EXPECT_EQ(pieces(q, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(pieces(q, "x  "), (Pieces{"x", "  "}));
  EXPECT_EQ(pieces(q, "\tfoo"), (Pieces{"\tfoo"}));
  EXPECT_EQ(pieces(q, "a, b!!\n\nc"), (Pieces{"a", ",", " b", "!!\n\n", "c"}));
  EXPECT_EQ(pieces(q, "\u3000\u3000a"), (Pieces{"\u3000", "\u3000a"}));
  // HF-only behaviour (the JS reference differs), see tokenizer_golden_test.cc.
  EXPECT_EQ(pieces(q, "it'\u017fa"), (Pieces{"it", "'\u017f", "a"}));
  EXPECT_EQ(pieces(q, "a \ufeffb"), (Pieces{"a", " \ufeff", "b"}));
  EXPECT_EQ(pieces(q, "a \u0085b"), (Pieces{"a", " ", "\u0085b"}));
}

TEST(QwenSplitterTest, AgreesWithPcreOnHandPickedCases) {
  const QwenSplitter q;
  for (const std::string text : {"Hello world", "I'M here", "they'LL 'Re", "it'\u017fa", "a \ufeffb",
                                 "a \u0085b", "  \n\n  x", "\r\n\r\n", "x\u180e\u180ey", "\x1c\x1d\x1e\x1f",
                                 "a\u00a0\u00a0b", "😀👍🏽 ok", "e\u0301\u0301"}) {
    EXPECT_EQ(pieces(q, text), pieces(pcre_qwen(), text)) << text;
  }
}

TEST(QwenSplitterTest, AgreesWithPcreOnRandomText) {
  // Characters whose classes agree between Unicode 14 (PCRE2 10.42) and 15.
  const std::vector<std::string> palette = {
      "a",      "Z",      "s",    "S",      "t",      "T",      "r",      "e",      "E",      "v",
      "m",      "l",      "L",    "d",      "0",      "9",      " ",      " ",      " ",      "\t",
      "\n",     "\r",     "\x0b", "\x0c",   "\x1c",   "'",      "'",      ".",      "!",      "-",
      "_",      "é",      "中",   "٣",      "Ⅻ",      "½",      "\u00a0", "\u3000", "\u2028", "\u0085",
      "\ufeff", "\u200b", "😀",    "\u0301", "\u017f", "\u180e", "<",      "|"};
  const QwenSplitter q;
  std::mt19937 rng(42);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const int length = 1 + static_cast<int>(rng() % 24);
    for (int i = 0; i < length; ++i)
      text += palette[rng() % palette.size()];
    ASSERT_EQ(pieces(q, text), pieces(pcre_qwen(), text)) << "text: " << text;
  }
}

TEST(QwenSplitterTest, PiecesCoverTheText) {
  const QwenSplitter q;
  const std::string text = "Mixed 文本 with 123 numbers,\r\n\tand   spaces  ";
  std::string joined;
  for (const std::string& p : pieces(q, text))
    joined += p;
  EXPECT_EQ(joined, text);
}

TEST(RegexSplitterTest, TranslatesOnigurumaClasses) {
  EXPECT_EQ(*RegexSplitter::translate(R"(\s+)"), R"([\x{9}-\x{D}\x{85}\p{Z}]+)");
  EXPECT_EQ(*RegexSplitter::translate(R"([^\s\p{L}])"), R"([^\x{9}-\x{D}\x{85}\p{Z}\p{L}])");
  EXPECT_EQ(*RegexSplitter::translate(R"((?!\S))"), R"((?![^\x{9}-\x{D}\x{85}\p{Z}]))");
  EXPECT_EQ(*RegexSplitter::translate(R"(\w+)"), R"([\p{L}\p{M}\p{Nd}\p{Pc}]+)");
  EXPECT_EQ(*RegexSplitter::translate(R"([]a])"), R"([]a])");
  EXPECT_EQ(*RegexSplitter::translate(R"([[:alpha:]])"), R"([[:alpha:]])");
  EXPECT_FALSE(RegexSplitter::translate(R"([a[b]])").ok());
  EXPECT_FALSE(RegexSplitter::translate(R"([\S])").ok());
  EXPECT_FALSE(RegexSplitter::translate("[abc").ok());
}

TEST(RegexSplitterTest, LiteralAndLongInput) {
  const auto comma = RegexSplitter::create_literal(",");
  ASSERT_TRUE(comma.ok());
  EXPECT_EQ(pieces(**comma, "a,b,,c"), (Pieces{",", ",", ","}));
  // A 4 MB run of one class must not fail for lack of JIT stack.
  const std::string spaces(4 << 20, ' ');
  EXPECT_EQ(pieces(pcre_qwen(), spaces + "x"), (Pieces{std::string((4 << 20) - 1, ' '), " x"}));
}

}  // namespace
}  // namespace pagoda
