// UTF-8 helpers shared by the tokenizer: decoding one code point, replacing
// malformed input with U+FFFD (WHATWG "maximal subpart" rule, the same as
// Rust's from_utf8_lossy) and streaming completion checks. Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pagoda::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Outcome of examining the bytes at the start of a buffer.
struct Scan {
  enum class Kind { kValid, kInvalid, kIncomplete };
  Kind kind;
  // kValid: length of the sequence (1-4), `code_point` set.
  // kInvalid: length of the maximal subpart to replace by one U+FFFD (>= 1).
  // kIncomplete: bytes available, all a valid prefix of a longer sequence.
  std::size_t length;
  char32_t code_point;
};

// Examines the sequence starting at s[0] (s must be non-empty).
Scan scan(std::string_view s);

// Decodes the code point at s[i] for text that is known to be valid UTF-8 and
// advances i. Undefined for invalid input.
inline char32_t next_valid(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<std::uint8_t>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  if (b0 < 0xE0) {
    const char32_t c = ((b0 & 0x1Fu) << 6) | (static_cast<std::uint8_t>(s[i + 1]) & 0x3Fu);
    i += 2;
    return c;
  }
  if (b0 < 0xF0) {
    const char32_t c = ((b0 & 0x0Fu) << 12) | ((static_cast<std::uint8_t>(s[i + 1]) & 0x3Fu) << 6) |
                       (static_cast<std::uint8_t>(s[i + 2]) & 0x3Fu);
    i += 3;
    return c;
  }
  const char32_t c = ((b0 & 0x07u) << 18) | ((static_cast<std::uint8_t>(s[i + 1]) & 0x3Fu) << 12) |
                     ((static_cast<std::uint8_t>(s[i + 2]) & 0x3Fu) << 6) |
                     (static_cast<std::uint8_t>(s[i + 3]) & 0x3Fu);
  i += 4;
  return c;
}

// Length in bytes of the valid sequence whose lead byte is b (1 for ASCII).
inline std::size_t sequence_length(std::uint8_t b) {
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

// Appends the UTF-8 encoding of c (c must be a Unicode scalar value).
void append(std::string& out, char32_t c);

// True when every byte is below 0x80.
bool is_ascii(std::string_view s);

// Index of the first malformed byte, or s.size() when s is valid UTF-8.
std::size_t find_invalid(std::string_view s);

// Appends s to out, replacing each maximal invalid subpart (and an
// incomplete sequence at the end) by U+FFFD.
void append_lossy(std::string& out, std::string_view s);

}  // namespace pagoda::utf8
