#include "base/status.h"

#include <gtest/gtest.h>

namespace pagoda {
namespace {

StatusOr<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("not positive: " + std::to_string(v));
  return v;
}

StatusOr<int> doubled(int v) {
  PAGODA_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndContext) {
  Status s = invalid_argument("bad").with_context("config.json: hidden_size");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.to_string(), "INVALID_ARGUMENT: config.json: hidden_size: bad");
}

TEST(StatusTest, AssignOrReturnPropagates) {
  EXPECT_EQ(doubled(4).value(), 8);
  StatusOr<int> err = doubled(-1);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().message(), "not positive: -1");
}

}  // namespace
}  // namespace pagoda
