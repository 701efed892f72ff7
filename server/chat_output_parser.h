// ChatOutputParser: splits one chat choice's streamed output text into
// reasoning (Qwen 3's <think>...</think>), answer content and tool calls, by
// chaining ReasoningParser and ToolCallParser. One per choice; used by the one
// thread that handles that choice's events.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/reasoning_parser.h"
#include "engine/chat/tool_call_parser.h"

namespace pagoda::server {

struct ChatDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> calls;  // complete calls
  bool empty() const { return reasoning.empty() && content.empty() && calls.empty(); }
};

class ChatOutputParser {
 public:
  // parse_reasoning: split out <think>; parse_tools: extract <tool_call> blocks.
  ChatOutputParser(bool parse_reasoning, bool starts_in_reasoning, bool parse_tools,
                   std::string tool_id_prefix);

  ChatDelta push(std::string_view text);
  ChatDelta finish();
  std::size_t num_calls() const { return num_calls_; }

 private:
  void feed_content(std::string_view content, bool at_end, ChatDelta& out);

  bool parse_reasoning_;
  bool parse_tools_;
  ReasoningParser reasoning_;
  ToolCallParser tools_;
  std::size_t num_calls_ = 0;
};

}  // namespace pagoda::server
