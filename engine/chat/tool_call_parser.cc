#include "engine/chat/tool_call_parser.h"

#include <nlohmann/json.hpp>

#include "engine/chat/text_scan.h"

namespace pagoda {
namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";
constexpr int kMaxArgumentsDepth = 64;

// Nesting depth of JSON text, ignoring brackets inside strings.
int json_depth(std::string_view text) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

ToolCallParser::ToolCallParser() = default;
ToolCallParser::ToolCallParser(Options options) : options_(std::move(options)) {}

ToolCallResult ToolCallParser::parse(std::string_view text, const Options& options) {
  ToolCallParser parser(options);
  ToolCallDelta a = parser.push(text);
  ToolCallDelta b = parser.finish();
  ToolCallResult result{a.content_delta + b.content_delta, std::move(a.calls)};
  for (ToolCall& call : b.calls)
    result.calls.push_back(std::move(call));
  return result;
}

ToolCallDelta ToolCallParser::push(std::string_view delta) {
  pending_.append(delta);
  ToolCallDelta out;
  step(out, false);
  return out;
}

ToolCallDelta ToolCallParser::finish() {
  ToolCallDelta out;
  step(out, true);
  return out;
}

bool ToolCallParser::parse_block(std::string_view body, ToolCall* call) {
  if (json_depth(body) > kMaxArgumentsDepth) return false;
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return false;
  auto name = json.find("name");
  if (name == json.end() || !name->is_string()) return false;
  auto args = json.find("arguments");
  std::string arguments;
  try {
    if (args == json.end() || args->is_null()) {
      arguments = "{}";
    } else if (args->is_object()) {
      arguments = args->dump();
    } else if (args->is_string()) {
      arguments = args->get<std::string>();
    } else {
      return false;
    }
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  call->id = options_.id_prefix + std::to_string(num_calls_++);
  call->name = name->get<std::string>();
  call->arguments = std::move(arguments);
  return true;
}

void ToolCallParser::step(ToolCallDelta& out, bool at_end) {
  while (true) {
    if (state_ == State::kInBlock) {
      std::size_t pos = pending_.find(kClose);
      if (pos == std::string::npos) {
        if (at_end || pending_.size() >= options_.max_block_bytes + kClose.size()) {
          out.content_delta += held_space_;
          out.content_delta += kOpen;
          out.content_delta += pending_;
          held_space_.clear();
          pending_.clear();
          state_ = State::kContent;
        }
        return;
      }
      ToolCall call;
      if (pos <= options_.max_block_bytes && parse_block(std::string_view(pending_).substr(0, pos), &call)) {
        out.calls.push_back(std::move(call));
        state_ = State::kAfterCall;
      } else {
        out.content_delta += held_space_;
        out.content_delta += kOpen;
        out.content_delta.append(pending_, 0, pos + kClose.size());
        state_ = State::kContent;
      }
      held_space_.clear();
      pending_.erase(0, pos + kClose.size());
      continue;
    }
    if (state_ == State::kAfterCall) {
      std::size_t i = 0;
      while (i < pending_.size() && is_json_space(pending_[i]))
        ++i;
      pending_.erase(0, i);
      if (pending_.empty()) return;
    }
    std::size_t pos = pending_.find(kOpen);
    if (pos != std::string::npos) {
      std::size_t end = pos;
      while (end > 0 && is_json_space(pending_[end - 1]))
        --end;
      out.content_delta.append(pending_, 0, end);
      held_space_.assign(pending_, end, pos - end);
      pending_.erase(0, pos + kOpen.size());
      state_ = State::kInBlock;
      continue;
    }
    if (at_end) {
      out.content_delta += pending_;
      pending_.clear();
      return;
    }
    // Hold back what could still be whitespace before "<tool_call>".
    std::size_t emit = pending_.size() - partial_tag_suffix(pending_, kOpen);
    while (emit > 0 && is_json_space(pending_[emit - 1]))
      --emit;
    if (emit > 0) {
      out.content_delta.append(pending_, 0, emit);
      pending_.erase(0, emit);
      state_ = State::kContent;
    }
    return;
  }
}

}  // namespace pagoda
