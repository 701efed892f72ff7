#include "engine/tokenizer/added_token_matcher.h"

#include <cstring>

#include "engine/tokenizer/char_class.h"
#include "engine/tokenizer/utf8.h"

namespace pagoda {
namespace {

// Start of the character that ends at `end` (end > 0, valid UTF-8).
std::size_t previous_char_start(std::string_view text, std::size_t end) {
  std::size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80)
    --i;
  return i;
}

CharClass class_at(std::string_view text, std::size_t i) {
  std::size_t j = i;
  return char_class(utf8::next_valid(text, j));
}

// HF uses Rust's char::is_alphanumeric; letters and numbers approximate it
// (Other_Alphabetic combining marks are not counted).
bool is_word_char(CharClass c) {
  return c == CharClass::kLetter || c == CharClass::kNumber;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens,
                                     const std::vector<std::string>& patterns) {
  nodes_.emplace_back();
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const std::string& pattern = patterns[t];
    if (pattern.empty()) continue;
    std::int32_t node = 0;
    for (const char ch : pattern) {
      const auto b = static_cast<std::uint8_t>(ch);
      std::int32_t child = -1;
      for (const Edge& e : nodes_[node].edges) {
        if (e.byte == b) child = e.child;
      }
      if (child < 0) {
        child = static_cast<std::int32_t>(nodes_.size());
        nodes_[node].edges.push_back({b, child});
        nodes_.emplace_back();
      }
      node = child;
    }
    if (nodes_[node].token_index < 0) {  // the first of duplicate contents wins
      nodes_[node].token_index = static_cast<std::int32_t>(tokens_.size());
      tokens_.push_back(
          {tokens[t].id, tokens[t].single_word, tokens[t].lstrip, tokens[t].rstrip, tokens[t].special});
    }
    const auto first = static_cast<std::uint8_t>(pattern[0]);
    if (!first_byte_[first]) {
      first_byte_[first] = true;
      ++num_first_bytes_;
      only_first_byte_ = first;
    }
    ++num_patterns_;
  }
}

std::pair<std::size_t, std::int32_t> AddedTokenMatcher::longest_at(std::string_view text,
                                                                   std::size_t i) const {
  std::int32_t node = 0;
  std::pair<std::size_t, std::int32_t> best{i, -1};
  for (std::size_t j = i; j < text.size(); ++j) {
    const auto b = static_cast<std::uint8_t>(text[j]);
    std::int32_t child = -1;
    for (const Edge& e : nodes_[node].edges) {
      if (e.byte == b) {
        child = e.child;
        break;
      }
    }
    if (child < 0) break;
    node = child;
    if (nodes_[node].token_index >= 0) best = {j + 1, nodes_[node].token_index};
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, bool skip_special, std::vector<TextSegment>& out) const {
  std::size_t segment_start = 0;  // start of the plain text not yet emitted
  std::size_t i = 0;
  while (i < text.size()) {
    // Jump to the next byte that can start a pattern.
    if (num_first_bytes_ == 1) {
      const void* p = std::memchr(text.data() + i, only_first_byte_, text.size() - i);
      if (p == nullptr) break;
      i = static_cast<std::size_t>(static_cast<const char*>(p) - text.data());
    } else if (num_first_bytes_ == 0) {
      break;
    } else if (!first_byte_[static_cast<std::uint8_t>(text[i])]) {
      ++i;
      continue;
    }
    const auto [match_end, index] = longest_at(text, i);
    if (index < 0) {
      ++i;
      continue;
    }
    const Flags& token = tokens_[index];
    std::size_t start = i;
    std::size_t stop = match_end;
    i = match_end;  // matches do not overlap, even the ones dropped below
    if (skip_special && token.special) continue;
    if (token.single_word) {
      const bool word_before = start > 0 && is_word_char(class_at(text, previous_char_start(text, start)));
      const bool word_after = stop < text.size() && is_word_char(class_at(text, stop));
      if (word_before || word_after) continue;
    }
    if (start < segment_start) continue;  // swallowed by the previous token's rstrip
    if (token.lstrip) {
      while (start > segment_start) {
        const std::size_t prev = previous_char_start(text, start);
        if (class_at(text, prev) != CharClass::kWhitespace) break;
        start = prev;
      }
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        std::size_t next = stop;
        if (char_class(utf8::next_valid(text, next)) != CharClass::kWhitespace) break;
        stop = next;
      }
      i = stop;
    }
    if (start > segment_start) out.push_back({segment_start, start, -1});
    out.push_back({start, stop, token.id});
    segment_start = stop;
  }
  if (segment_start < text.size()) out.push_back({segment_start, text.size(), -1});
}

}  // namespace pagoda
