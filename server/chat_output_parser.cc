#include "server/chat_output_parser.h"

namespace pagoda::server {
namespace {

ToolCallParser::Options tool_options(std::string prefix) {
  ToolCallParser::Options o;
  o.id_prefix = std::move(prefix);
  return o;
}

}  // namespace

ChatOutputParser::ChatOutputParser(bool parse_reasoning, bool starts_in_reasoning, bool parse_tools,
                                   std::string tool_id_prefix)
    : parse_reasoning_(parse_reasoning),
      parse_tools_(parse_tools),
      reasoning_(starts_in_reasoning),
      tools_(tool_options(std::move(tool_id_prefix))) {}

void ChatOutputParser::feed_content(std::string_view content, bool at_end, ChatDelta& out) {
  if (!parse_tools_) {
    out.content += content;
    return;
  }
  ToolCallDelta d = tools_.push(content);
  out.content += d.content_delta;
  for (ToolCall& c : d.calls)
    out.calls.push_back(std::move(c));
  if (at_end) {
    ToolCallDelta f = tools_.finish();
    out.content += f.content_delta;
    for (ToolCall& c : f.calls)
      out.calls.push_back(std::move(c));
  }
  num_calls_ = tools_.num_calls();
}

ChatDelta ChatOutputParser::push(std::string_view text) {
  ChatDelta out;
  if (!parse_reasoning_) {
    feed_content(text, false, out);
    return out;
  }
  ReasoningDelta r = reasoning_.push(text);
  out.reasoning = std::move(r.reasoning_delta);
  feed_content(r.content_delta, false, out);
  return out;
}

ChatDelta ChatOutputParser::finish() {
  ChatDelta out;
  if (parse_reasoning_) {
    ReasoningDelta r = reasoning_.finish();
    out.reasoning = std::move(r.reasoning_delta);
    feed_content(r.content_delta, true, out);
  } else {
    feed_content("", true, out);
  }
  return out;
}

}  // namespace pagoda::server
