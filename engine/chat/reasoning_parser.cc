#include "engine/chat/reasoning_parser.h"

#include "engine/chat/text_scan.h"

namespace pagoda {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

void drop_leading_newlines(std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] == '\n')
    ++i;
  s.erase(0, i);
}

}  // namespace

ReasoningParser::ReasoningParser(bool starts_in_reasoning)
    : state_(starts_in_reasoning ? State::kReasoningStart : State::kStart) {}

ReasoningResult ReasoningParser::parse(std::string_view text, bool starts_in_reasoning) {
  ReasoningParser parser(starts_in_reasoning);
  ReasoningDelta a = parser.push(text);
  ReasoningDelta b = parser.finish();
  return ReasoningResult{a.reasoning_delta + b.reasoning_delta, a.content_delta + b.content_delta,
                         parser.reasoning_ended()};
}

ReasoningDelta ReasoningParser::push(std::string_view delta) {
  pending_.append(delta);
  ReasoningDelta out;
  step(out, false);
  return out;
}

ReasoningDelta ReasoningParser::finish() {
  ReasoningDelta out;
  step(out, true);
  return out;
}

void ReasoningParser::step(ReasoningDelta& out, bool at_end) {
  while (true) {
    switch (state_) {
      case State::kStart: {
        std::size_t i = 0;
        while (i < pending_.size() && is_json_space(pending_[i]))
          ++i;
        std::string_view rest = std::string_view(pending_).substr(i);
        if (rest.substr(0, kThinkOpen.size()) == kThinkOpen) {
          pending_.erase(0, i + kThinkOpen.size());
          state_ = State::kReasoningStart;
          continue;
        }
        const bool maybe_open = rest.size() < kThinkOpen.size() && kThinkOpen.substr(0, rest.size()) == rest;
        if (maybe_open && !at_end) return;  // wait for more
        state_ = State::kContent;
        continue;
      }
      case State::kReasoningStart:
        drop_leading_newlines(pending_);
        if (pending_.empty()) return;
        state_ = State::kReasoning;
        continue;
      case State::kReasoning: {
        std::size_t pos = pending_.find(kThinkClose);
        if (pos != std::string::npos) {
          std::size_t end = pos;
          while (end > 0 && pending_[end - 1] == '\n')
            --end;
          out.reasoning_delta.append(pending_, 0, end);
          pending_.erase(0, pos + kThinkClose.size());
          state_ = State::kContentStart;
          ended_ = true;
          continue;
        }
        if (at_end) {
          out.reasoning_delta += pending_;
          pending_.clear();
          return;
        }
        // Hold back what could still turn out to be "\n...</think>".
        std::size_t emit = pending_.size() - partial_tag_suffix(pending_, kThinkClose);
        while (emit > 0 && pending_[emit - 1] == '\n')
          --emit;
        out.reasoning_delta.append(pending_, 0, emit);
        pending_.erase(0, emit);
        return;
      }
      case State::kContentStart:
        drop_leading_newlines(pending_);
        if (pending_.empty()) return;
        state_ = State::kContent;
        continue;
      case State::kContent:
        out.content_delta += pending_;
        pending_.clear();
        return;
    }
  }
}

}  // namespace pagoda
