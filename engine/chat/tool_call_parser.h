// ToolCallParser: extracts Qwen/Hermes tool calls, <tool_call>\n{"name": ..., "arguments":
// {...}}\n</tool_call>, from model output (its content part, after ReasoningParser), in one shot or
// incrementally. One parser per response; not thread-safe (the thread that feeds a stream owns its parser).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda {

struct ToolCall {
  std::string id;  // id_prefix + index within the response: "call_0", "call_1", ...
  std::string name;
  std::string arguments;  // a JSON text: the object as compact JSON, or the string the model wrote
};

struct ToolCallDelta {
  std::string content_delta;
  std::vector<ToolCall> calls;  // calls completed by this piece of output
};

struct ToolCallResult {
  std::string content;
  std::vector<ToolCall> calls;
};

// Rules (the same for parse() and push()+finish()):
// - A block is valid when its body is a JSON object with a string "name" and "arguments" that is an
//   object or a string (missing: "{}"). A malformed block stays in the content verbatim, tags included;
//   so does a block still open when the output ends.
// - Whitespace between content and a valid block, between blocks, and after the last block is dropped.
class ToolCallParser {
 public:
  struct Options {
    std::string id_prefix = "call_";
    std::size_t max_block_bytes = 1u << 20;  // a longer block is given up on and kept as content
  };

  ToolCallParser();
  explicit ToolCallParser(Options options);

  static ToolCallResult parse(std::string_view text, const Options& options);
  static ToolCallResult parse(std::string_view text) { return parse(text, Options()); }

  ToolCallDelta push(std::string_view delta);
  ToolCallDelta finish();

  std::size_t num_calls() const { return num_calls_; }

 private:
  enum class State { kContent, kAfterCall, kInBlock };

  void step(ToolCallDelta& out, bool at_end);
  // Parses a block body; false when malformed.
  bool parse_block(std::string_view body, ToolCall* call);

  Options options_;
  State state_ = State::kContent;
  std::string pending_;
  std::string held_space_;  // whitespace before an open block: dropped if the block is valid
  std::size_t num_calls_ = 0;
};

}  // namespace pagoda
