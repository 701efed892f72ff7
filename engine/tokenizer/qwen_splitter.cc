#include "engine/tokenizer/qwen_splitter.h"

#include <cstdint>

#include "engine/tokenizer/char_class.h"
#include "engine/tokenizer/utf8.h"

namespace pagoda {
namespace {

struct Char {
  CharClass cls;
  std::uint8_t length;  // bytes
};

// Class and length of the character at text[i] (i < text.size(), valid UTF-8).
inline Char char_at(std::string_view text, std::size_t i) {
  const auto b = static_cast<std::uint8_t>(text[i]);
  if (b < 0x80) return {ascii_char_class(b), 1};
  std::size_t j = i;
  const char32_t c = utf8::next_valid(text, j);
  return {char_class(c), static_cast<std::uint8_t>(j - i)};
}

inline bool is_cr_or_lf(char c) {
  return c == '\r' || c == '\n';
}

inline char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Length of the contraction suffix after an apostrophe at text[j..]
// ((?i:s|t|re|ve|m|ll|d)), or 0. Case-insensitive as Oniguruma is: 's' also
// matches U+017F LATIN SMALL LETTER LONG S, whose case folding is 's'.
inline std::size_t contraction_length(std::string_view text, std::size_t j) {
  if (j >= text.size()) return 0;
  const char c = lower_ascii(text[j]);
  const bool has_next = j + 1 < text.size();
  const char c2 = has_next ? lower_ascii(text[j + 1]) : '\0';
  switch (c) {
    case 's':
    case 't':
    case 'm':
    case 'd':
      return 1;
    case 'r':
      return c2 == 'e' ? 2 : 0;
    case 'v':
      return c2 == 'e' ? 2 : 0;
    case 'l':
      return c2 == 'l' ? 2 : 0;
    case '\xC5':
      return (has_next && text[j + 1] == '\xBF') ? 2 : 0;  // U+017F
    default:
      return 0;
  }
}

inline std::size_t skip_class(std::string_view text, std::size_t j, CharClass cls) {
  while (j < text.size()) {
    const Char ch = char_at(text, j);
    if (ch.cls != cls) break;
    j += ch.length;
  }
  return j;
}

}  // namespace

void QwenSplitter::find_matches(std::string_view text, std::vector<TextSpan>& matches) const {
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const std::size_t start = i;
    // 1. (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (text[i] == '\'') {
      const std::size_t m = contraction_length(text, i + 1);
      if (m > 0) {
        i += 1 + m;
        matches.push_back({start, i});
        continue;
      }
    }
    const Char c0 = char_at(text, i);
    // 2. [^\r\n\p{L}\p{N}]?\p{L}+
    if (c0.cls == CharClass::kLetter) {
      i = skip_class(text, i + c0.length, CharClass::kLetter);
      matches.push_back({start, i});
      continue;
    }
    if (c0.cls != CharClass::kNumber && !is_cr_or_lf(text[i]) && i + c0.length < n &&
        char_at(text, i + c0.length).cls == CharClass::kLetter) {
      i = skip_class(text, i + c0.length, CharClass::kLetter);
      matches.push_back({start, i});
      continue;
    }
    // 3. \p{N}
    if (c0.cls == CharClass::kNumber) {
      i += c0.length;
      matches.push_back({start, i});
      continue;
    }
    // 4. ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    {
      std::size_t p = i;
      if (text[i] == ' ') ++p;
      if (p < n && char_at(text, p).cls == CharClass::kOther) {
        p = skip_class(text, p, CharClass::kOther);
        while (p < n && is_cr_or_lf(text[p]))
          ++p;
        i = p;
        matches.push_back({start, i});
        continue;
      }
    }
    // c0 is whitespace from here on. Scan the whole run, remembering the end
    // of its last \r or \n and the start of its last character.
    std::size_t end = i;
    std::size_t last_newline_end = 0;
    std::size_t last_char_start = i;
    std::size_t num_chars = 0;
    while (end < n) {
      const Char ch = char_at(text, end);
      if (ch.cls != CharClass::kWhitespace) break;
      last_char_start = end;
      ++num_chars;
      end += ch.length;
      if (is_cr_or_lf(text[last_char_start])) last_newline_end = end;
    }
    if (last_newline_end > 0) {
      i = last_newline_end;  // 5. \s*[\r\n]+
    } else if (end == n || num_chars == 1) {
      i = end;  // 6. \s+(?!\S) at the end of the text, or 7. \s+
    } else {
      i = last_char_start;  // 6. \s+(?!\S): leave the last space for the next word
    }
    matches.push_back({start, i});
  }
}

}  // namespace pagoda
