// Fuzzes the parsers that split a chat choice's model output: ReasoningParser
// (<think>), ToolCallParser (<tool_call> blocks) and the server's
// ChatOutputParser that chains them per streamed choice. Their headers promise
// that streaming (push + finish, in any chunking) gives exactly what one-shot
// parse() gives; this target checks that, chunk size and flags taken from the
// first byte: bit 0 starts_in_reasoning, bit 1 parse_reasoning, bit 2
// parse_tools, bits 3-7 chunk size - 1.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/reasoning_parser.h"
#include "engine/chat/tool_call_parser.h"
#include "server/chat_output_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using pagoda::fuzz::check;

bool same_calls(const std::vector<pagoda::ToolCall>& a, const std::vector<pagoda::ToolCall>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].name != b[i].name || a[i].arguments != b[i].arguments) return false;
  }
  return true;
}

void append_calls(std::vector<pagoda::ToolCall>& to, std::vector<pagoda::ToolCall>& from) {
  for (pagoda::ToolCall& c : from)
    to.push_back(std::move(c));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool starts_in_reasoning = (data[0] & 1) != 0;
  const bool parse_reasoning = (data[0] & 2) != 0;
  const bool parse_tools = (data[0] & 4) != 0;
  const std::size_t chunk = static_cast<std::size_t>(data[0] >> 3) + 1;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  pagoda::ToolCallParser::Options tool_options;
  tool_options.id_prefix = "call_fuzz_0_";

  // ReasoningParser: streaming == one shot.
  const pagoda::ReasoningResult reasoning = pagoda::ReasoningParser::parse(text, starts_in_reasoning);
  {
    pagoda::ReasoningParser stream(starts_in_reasoning);
    std::string r, c;
    for (std::size_t i = 0; i < text.size(); i += chunk) {
      pagoda::ReasoningDelta d = stream.push(text.substr(i, chunk));
      r += d.reasoning_delta;
      c += d.content_delta;
    }
    pagoda::ReasoningDelta d = stream.finish();
    r += d.reasoning_delta;
    c += d.content_delta;
    check(r == reasoning.reasoning_content, "reasoning: streamed reasoning equals parse()");
    check(c == reasoning.content, "reasoning: streamed content equals parse()");
    check(stream.reasoning_ended() == reasoning.reasoning_ended, "reasoning: reasoning_ended equals parse()");
  }

  // ToolCallParser: streaming == one shot.
  const pagoda::ToolCallResult tools = pagoda::ToolCallParser::parse(text, tool_options);
  {
    pagoda::ToolCallParser stream(tool_options);
    std::string c;
    std::vector<pagoda::ToolCall> calls;
    for (std::size_t i = 0; i < text.size(); i += chunk) {
      pagoda::ToolCallDelta d = stream.push(text.substr(i, chunk));
      c += d.content_delta;
      append_calls(calls, d.calls);
    }
    pagoda::ToolCallDelta d = stream.finish();
    c += d.content_delta;
    append_calls(calls, d.calls);
    check(c == tools.content, "tool calls: streamed content equals parse()");
    check(same_calls(calls, tools.calls), "tool calls: streamed calls equal parse()");
    check(stream.num_calls() == tools.calls.size(), "tool calls: num_calls");
  }

  // ChatOutputParser (as each chat choice runs it) == the one-shot parsers chained.
  {
    std::string want_reasoning;
    std::string want_content(text);
    std::vector<pagoda::ToolCall> want_calls;
    if (parse_reasoning) {
      want_reasoning = reasoning.reasoning_content;
      want_content = reasoning.content;
    }
    if (parse_tools) {
      pagoda::ToolCallResult t = pagoda::ToolCallParser::parse(want_content, tool_options);
      want_content = std::move(t.content);
      want_calls = std::move(t.calls);
    }
    pagoda::server::ChatOutputParser parser(parse_reasoning, starts_in_reasoning, parse_tools,
                                            tool_options.id_prefix);
    std::string r, c;
    std::vector<pagoda::ToolCall> calls;
    for (std::size_t i = 0; i < text.size(); i += chunk) {
      pagoda::server::ChatDelta d = parser.push(text.substr(i, chunk));
      r += d.reasoning;
      c += d.content;
      append_calls(calls, d.calls);
    }
    pagoda::server::ChatDelta d = parser.finish();
    r += d.reasoning;
    c += d.content;
    append_calls(calls, d.calls);
    check(r == want_reasoning, "chat output: reasoning");
    check(c == want_content, "chat output: content");
    check(same_calls(calls, want_calls), "chat output: tool calls");
    check(parser.num_calls() == want_calls.size(), "chat output: num_calls");
  }
  return 0;
}
