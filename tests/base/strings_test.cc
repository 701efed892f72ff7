#include "base/strings.h"

#include <gtest/gtest.h>

namespace pagoda {
namespace {

TEST(StringsTest, ParseIntList) {
  auto ids = parse_int_list(" 1, 22 ,333", "--ids");
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, (std::vector<std::int32_t>{1, 22, 333}));
  EXPECT_TRUE(parse_int_list("", "--ids")->empty());
}

TEST(StringsTest, ParseIntListNamesTheBadPiece) {
  auto ids = parse_int_list("1,x2,3", "--ids");
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().message(), "--ids: 'x2' is not an integer");
  EXPECT_FALSE(parse_int_list("1,,3", "--ids").ok());
  EXPECT_FALSE(parse_int_list("99999999999", "--ids").ok());
}

TEST(StringsTest, IdsToJson) {
  EXPECT_EQ(ids_to_json({1, -2, 3}), "[1,-2,3]");
}

TEST(StringsTest, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
}

}  // namespace
}  // namespace pagoda
