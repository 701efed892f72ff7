// ReasoningParser: splits Qwen 3 output into reasoning (inside <think>...</think>) and content, in one
// shot or incrementally as text streams in, never emitting part of a tag. One parser per response;
// not thread-safe (the thread that feeds a stream owns its parser).
#pragma once

#include <string>
#include <string_view>

namespace pagoda {

struct ReasoningDelta {
  std::string reasoning_delta;
  std::string content_delta;
};

struct ReasoningResult {
  std::string reasoning_content;
  std::string content;
  bool reasoning_ended = false;  // </think> was seen (false: no reasoning, or output cut inside it)
};

// Rules (the same for parse() and push()+finish()):
// - Output that begins with "<think>" (after optional whitespace), or any output when the prompt
//   already ended inside thinking (`starts_in_reasoning`), is reasoning up to "</think>".
// - Newlines right after "<think>" and right before "</think>" are dropped, and so are newlines
//   right after "</think>" (Qwen 3 writes "<think>\n...\n</think>\n\n"); the template strips them the
//   same way when the turn is fed back.
// - Output without a leading "<think>" is all content; tags later in content are plain text.
// - Output cut inside reasoning ends as reasoning (a held-back partial tag included).
class ReasoningParser {
 public:
  explicit ReasoningParser(bool starts_in_reasoning = false);

  static ReasoningResult parse(std::string_view text, bool starts_in_reasoning = false);

  // Feeds the next piece of output; returns what can be emitted now.
  ReasoningDelta push(std::string_view delta);
  // Flushes text held back at the end of the output.
  ReasoningDelta finish();

  // True once "</think>" has been seen.
  bool reasoning_ended() const { return ended_; }

 private:
  enum class State {
    kStart,           // before anything: waiting to see whether the output opens with <think>
    kReasoningStart,  // just after <think>: dropping newlines
    kReasoning,
    kContentStart,  // just after </think>: dropping newlines
    kContent,
  };

  void step(ReasoningDelta& out, bool at_end);

  State state_;
  bool ended_ = false;
  std::string pending_;  // text received but not yet emitted
};

}  // namespace pagoda
