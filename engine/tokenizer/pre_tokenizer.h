// PreTokenizer: cuts normalized text into the pieces BPE encodes one at a
// time (tokenizer.json "pre_tokenizer": Split, ByteLevel or a Sequence of
// them). Immutable after construction; any thread may call split().
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "engine/tokenizer/splitter.h"

namespace pagoda {

// What a Split step keeps of each match (HF SplitDelimiterBehavior).
enum class SplitBehavior {
  kIsolated,  // matches and the text between them become pieces
  kRemoved,   // only the text between matches becomes pieces
};

struct PreTokenizerStep {
  std::unique_ptr<Splitter> splitter;
  SplitBehavior behavior = SplitBehavior::kIsolated;
};

class PreTokenizer {
 public:
  PreTokenizer() = default;  // no pre-tokenizer: the whole text is one piece
  PreTokenizer(std::vector<PreTokenizerStep> steps, bool add_prefix_space)
      : steps_(std::move(steps)), add_prefix_space_(add_prefix_space) {}

  // ByteLevel's add_prefix_space: a space goes before text that does not start
  // with one (the caller prepends it before split()).
  bool add_prefix_space() const { return add_prefix_space_; }

  // Replaces `pieces` with the non-empty pieces of `text`, in order.
  void split(std::string_view text, std::vector<TextSpan>& pieces) const;

 private:
  std::vector<PreTokenizerStep> steps_;
  bool add_prefix_space_ = false;
};

}  // namespace pagoda
