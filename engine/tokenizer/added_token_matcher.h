// AddedTokenMatcher: finds added tokens (<|im_start|>, <think>, ...) in text
// before pre-tokenization, leftmost-longest as HF tokenizers' Aho-Corasick
// does, honouring lstrip / rstrip / single_word. Immutable after
// construction; any thread may call split().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda {

// One entry of tokenizer.json "added_tokens".
struct AddedToken {
  std::int32_t id = 0;
  std::string content;
  bool single_word = false;  // match only when not inside a word
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = false;   // matched in normalized text (else in the raw text)
  bool special = false;      // skipped by decode(skip_special_tokens)
};

// A piece of text: an added token (id >= 0) or plain text to tokenize (id -1).
struct TextSegment {
  std::size_t begin;
  std::size_t end;
  std::int32_t id;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `patterns[i]` is the text to match for `tokens[i]` (its content, or its
  // normalized content for normalized tokens). Empty patterns are ignored.
  AddedTokenMatcher(const std::vector<AddedToken>& tokens, const std::vector<std::string>& patterns);

  bool empty() const { return num_patterns_ == 0; }

  // Appends the segments of `text` (valid UTF-8) to `out`, covering all of it
  // except whitespace that lstrip/rstrip swallowed. Tokens with `special` set
  // are left in the text when `skip_special` (HF encode_special_tokens).
  void split(std::string_view text, bool skip_special, std::vector<TextSegment>& out) const;

 private:
  struct Edge {
    std::uint8_t byte;
    std::int32_t child;
  };
  struct Node {
    std::vector<Edge> edges;
    std::int32_t token_index = -1;  // index into tokens_ when a pattern ends here
  };
  struct Flags {
    std::int32_t id;
    bool single_word, lstrip, rstrip, special;
  };

  // Longest pattern starting at text[i]: its end and token index, or index -1.
  std::pair<std::size_t, std::int32_t> longest_at(std::string_view text, std::size_t i) const;

  std::vector<Node> nodes_;
  std::vector<Flags> tokens_;
  bool first_byte_[256] = {};
  int num_first_bytes_ = 0;
  unsigned char only_first_byte_ = 0;
  std::size_t num_patterns_ = 0;
};

}  // namespace pagoda
