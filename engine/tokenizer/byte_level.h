// GPT-2 byte-level alphabet: each byte maps to one printable code point so a
// BPE vocabulary can be stored as text. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pagoda::byte_level {

// The code point that stands for `byte` in vocabulary strings.
char32_t byte_to_char(std::uint8_t byte);

// The byte a code point stands for, or -1 when it is not in the alphabet.
int char_to_byte(char32_t c);

// Vocabulary string -> raw bytes, as HF's ByteLevel decoder does it: when every
// character is in the alphabet, the bytes they stand for; otherwise the
// token's own UTF-8 bytes. `token` must be valid UTF-8.
std::string decode_token(std::string_view token);

// Raw bytes -> vocabulary string.
std::string encode_bytes(std::string_view bytes);

}  // namespace pagoda::byte_level
