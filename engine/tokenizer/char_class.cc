#include "engine/tokenizer/char_class.h"

#include <array>

#include <utf8proc.h>

namespace pagoda {
namespace {

CharClass classify(char32_t c) {
  if ((c >= 0x09 && c <= 0x0D) || c == 0x85) return CharClass::kWhitespace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kNumber;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return CharClass::kWhitespace;
    default:
      return CharClass::kOther;
  }
}

struct BmpTable {
  std::array<CharClass, 0x10000> classes;
  BmpTable() {
    for (char32_t c = 0; c < 0x10000; ++c)
      classes[c] = classify(c);
  }
};

const BmpTable& bmp_table() {
  static const BmpTable table;  // thread-safe initialisation
  return table;
}

constexpr std::array<CharClass, 128> make_ascii_table() {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    CharClass k = CharClass::kOther;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k = CharClass::kLetter;
    if (c >= '0' && c <= '9') k = CharClass::kNumber;
    if ((c >= 0x09 && c <= 0x0D) || c == ' ') k = CharClass::kWhitespace;
    t[c] = k;
  }
  return t;
}

constexpr std::array<CharClass, 128> kAsciiTable = make_ascii_table();

}  // namespace

CharClass ascii_char_class(std::uint8_t c) {
  return kAsciiTable[c];
}

CharClass char_class(char32_t c) {
  if (c < 0x80) return kAsciiTable[c];
  if (c < 0x10000) return bmp_table().classes[c];
  if (c > 0x10FFFF) return CharClass::kOther;
  return classify(c);
}

}  // namespace pagoda
