// Tests of the UTF-8 helpers: WHATWG "maximal subpart" replacement.
#include "engine/tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace pagoda {
namespace {

std::string lossy(std::string_view s) {
  std::string out;
  utf8::append_lossy(out, s);
  return out;
}

constexpr const char* kR = "\uFFFD";

TEST(Utf8Test, ValidTextIsUnchanged) {
  for (const std::string s : {"", "ascii", "é中😀", "\x7f", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(utf8::find_invalid(s), s.size()) << s;
    EXPECT_EQ(lossy(s), s);
  }
}

TEST(Utf8Test, MaximalSubpartsBecomeOneReplacementEach) {
  // Cases from the WHATWG Encoding standard and Unicode chapter 3 table 3-8.
  EXPECT_EQ(lossy("\xFF"), kR);
  EXPECT_EQ(lossy("\x80"), kR);
  EXPECT_EQ(lossy("\xC3"), kR);                                          // truncated at the end
  EXPECT_EQ(lossy("\xC3("), std::string(kR) + "(");                      // bad continuation
  EXPECT_EQ(lossy("\xE0\x80\xAF"), std::string(kR) + kR + kR);           // overlong: E0 needs A0..BF
  EXPECT_EQ(lossy("\xED\xA0\x80"), std::string(kR) + kR + kR);           // surrogate
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), std::string(kR) + kR + kR + kR);  // past U+10FFFF
  EXPECT_EQ(lossy("\xE4\xB8"), kR);                                      // one subpart
  EXPECT_EQ(lossy("\xE4\xB8"
                  "a"),
            std::string(kR) + "a");
  EXPECT_EQ(lossy("\xF0\x9F\x98"), kR);
  EXPECT_EQ(lossy("a\xF0\x9F\x98\xF0\x9F\x98\x80"), std::string("a") + kR + "😀");
  EXPECT_EQ(lossy("\xC0\xC1\xF5\xFF"), std::string(kR) + kR + kR + kR);
  EXPECT_EQ(lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            std::string("a") + kR + kR + kR + "b" + kR + "c" + kR + kR + "d");
}

TEST(Utf8Test, ScanReportsIncompletePrefixes) {
  EXPECT_EQ(utf8::scan("\xE4").kind, utf8::Scan::Kind::kIncomplete);
  EXPECT_EQ(utf8::scan("\xE4\xB8").kind, utf8::Scan::Kind::kIncomplete);
  const utf8::Scan full = utf8::scan("\xE4\xB8\xAD");
  EXPECT_EQ(full.kind, utf8::Scan::Kind::kValid);
  EXPECT_EQ(full.code_point, U'中');
  EXPECT_EQ(utf8::scan("\xE0\x80").kind, utf8::Scan::Kind::kInvalid);
}

}  // namespace
}  // namespace pagoda
