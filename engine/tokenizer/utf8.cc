#include "engine/tokenizer/utf8.h"

#include <cstring>

namespace pagoda::utf8 {
namespace {

inline bool in_range(std::uint8_t b, std::uint8_t lo, std::uint8_t hi) {
  return b >= lo && b <= hi;
}

}  // namespace

Scan scan(std::string_view s) {
  const auto b0 = static_cast<std::uint8_t>(s[0]);
  if (b0 < 0x80) return {Scan::Kind::kValid, 1, b0};
  std::size_t need;
  std::uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
  char32_t c;
  if (in_range(b0, 0xC2, 0xDF)) {
    need = 1;
    c = b0 & 0x1Fu;
  } else if (in_range(b0, 0xE0, 0xEF)) {
    need = 2;
    c = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (in_range(b0, 0xF0, 0xF4)) {
    need = 3;
    c = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {Scan::Kind::kInvalid, 1, 0};
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (k >= s.size()) return {Scan::Kind::kIncomplete, k, 0};
    const auto b = static_cast<std::uint8_t>(s[k]);
    const bool ok = k == 1 ? in_range(b, lo, hi) : in_range(b, 0x80, 0xBF);
    if (!ok) return {Scan::Kind::kInvalid, k, 0};
    c = (c << 6) | (b & 0x3Fu);
  }
  return {Scan::Kind::kValid, need + 1, c};
}

void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool is_ascii(std::string_view s) {
  const char* p = s.data();
  std::size_t n = s.size();
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (w & 0x8080808080808080ull) return false;
    p += 8;
    n -= 8;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (static_cast<std::uint8_t>(p[i]) >= 0x80) return false;
  }
  return true;
}

std::size_t find_invalid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // Skip ASCII eight bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    if (static_cast<std::uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Scan r = scan(s.substr(i));
    if (r.kind != Scan::Kind::kValid) return i;
    i += r.length;
  }
  return s.size();
}

void append_lossy(std::string& out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t bad = i + find_invalid(s.substr(i));
    out.append(s.data() + i, bad - i);
    if (bad >= s.size()) return;
    const Scan r = scan(s.substr(bad));
    out.append(kReplacement);
    i = bad + r.length;  // kInvalid: maximal subpart; kIncomplete: the rest of s
  }
}

}  // namespace pagoda::utf8
