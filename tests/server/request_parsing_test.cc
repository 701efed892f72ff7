// Unit tests of the request parsers both front ends share, without a server:
// JSON nesting limits (HTTP bodies and the JSON texts inside pagoda.v1
// requests) and the pagoda.v1 chat input conversion.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pagoda/v1/pagoda.pb.h"
#include "server/grpc_conversion.h"
#include "server/http_request.h"
#include "server/request_validation.h"

namespace pagoda::server {
namespace {

using ::testing::HasSubstr;

std::string nested(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

TEST(JsonDepth, CountsArraysAndObjectsOutsideStrings) {
  EXPECT_TRUE(validate_json_depth(nested(64), "x", 64).ok());
  Status s = validate_json_depth(nested(65), "x", 64);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("x: nests deeper than 64 levels"));
  EXPECT_TRUE(validate_json_depth(R"({"a": "[[[[[[", "b": "\"{{{{{{{"})", "x", 1).ok());
  EXPECT_FALSE(validate_json_depth(R"({"a": [{}]})", "x", 2).ok());
}

TEST(JsonDepth, HttpBodyKeepsItsMessage) {
  StatusOr<nlohmann::ordered_json> body = parse_json_body("{\"a\":" + nested(64) + "}", 64);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().message(), "the request body nests deeper than 64 levels");
  EXPECT_TRUE(parse_json_body("{\"a\":" + nested(63) + "}", 64).ok());
}

// Regression (grpc_request_fuzz, corpus/grpc_request_fuzz/regression_deep_tool_arguments):
// tool call arguments nested thousands of levels deep overflowed the stack
// when the parsed document was copied into the chat messages.
TEST(ChatInputFromProto, RefusesDeeplyNestedToolCallArguments) {
  v1::ChatInput chat;
  v1::ChatMessage* m = chat.add_messages();
  m->set_role("assistant");
  v1::ChatToolCall* call = m->add_tool_calls();
  call->set_name("f");
  call->set_arguments(nested(100000));
  StatusOr<ChatPromptInput> in = chat_input_from_proto(chat, RequestLimits());
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(in.status().message(), HasSubstr("chat.messages.tool_calls.arguments"));
}

TEST(ChatInputFromProto, RefusesDeeplyNestedToolParameters) {
  v1::ChatInput chat;
  chat.add_messages()->set_role("user");
  v1::Tool* tool = chat.add_tools();
  tool->set_name("f");
  tool->set_parameters_json("{\"a\":" + nested(100000) + "}");
  StatusOr<ChatPromptInput> in = chat_input_from_proto(chat, RequestLimits());
  ASSERT_FALSE(in.ok());
  EXPECT_THAT(in.status().message(), HasSubstr("chat.tools.parameters_json"));
}

TEST(ChatInputFromProto, KeepsArgumentsWithinTheLimit) {
  v1::ChatInput chat;
  v1::ChatMessage* m = chat.add_messages();
  m->set_role("assistant");
  v1::ChatToolCall* call = m->add_tool_calls();
  call->set_id("call_1");
  call->set_name("f");
  call->set_arguments(R"({"k": [[1, 2], {"x": null}]})");
  m->add_tool_calls()->set_arguments("not json");
  StatusOr<ChatPromptInput> in = chat_input_from_proto(chat, RequestLimits());
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  const nlohmann::ordered_json& calls = in->messages[0]["tool_calls"];
  EXPECT_EQ(calls[0]["function"]["arguments"]["k"][1]["x"], nullptr);
  EXPECT_EQ(calls[1]["function"]["arguments"], "not json");
}

}  // namespace
}  // namespace pagoda::server
