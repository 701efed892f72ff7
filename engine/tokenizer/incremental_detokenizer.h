// IncrementalDetokenizer: turns a stream of generated token ids into text as
// they arrive, never emitting half a UTF-8 character. The concatenation of
// every push() and finish() equals Tokenizer::decode of all the ids. One per
// request stream, used by one thread at a time; the Tokenizer must outlive it.
#pragma once

#include <cstdint>
#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace pagoda {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);

  // Adds one id; returns the text it completed (possibly ""). Invalid bytes
  // become U+FFFD as soon as they are known to be invalid.
  std::string push(std::int32_t id);

  // Ends the stream: an incomplete trailing sequence becomes one U+FFFD.
  std::string finish();

  // Bytes held back waiting for the rest of a character.
  std::size_t num_pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  std::string pending_;
};

}  // namespace pagoda
