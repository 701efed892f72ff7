// Unicode character classes used by pre-tokenization, defined as the Hugging
// Face tokenizers (Rust, Oniguruma regex) define them: \p{L}, \p{N} and \s.
// Backed by a table built once from utf8proc; any thread may call these.
#pragma once

#include <cstdint>

namespace pagoda {

enum class CharClass : std::uint8_t {
  kOther = 0,
  kLetter = 1,      // \p{L}: Lu Ll Lt Lm Lo
  kNumber = 2,      // \p{N}: Nd Nl No
  kWhitespace = 3,  // Oniguruma's Unicode \s: U+0009..U+000D, U+0085, Zs, Zl, Zp
                    // (the same set as Rust's char::is_whitespace)
};

// Class of a Unicode scalar value (values past U+10FFFF are kOther).
CharClass char_class(char32_t c);

// Class of an ASCII byte (c < 0x80), a constant-time table lookup.
CharClass ascii_char_class(std::uint8_t c);

}  // namespace pagoda
