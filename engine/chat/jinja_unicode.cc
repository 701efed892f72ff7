#include "engine/chat/jinja_unicode.h"

#include <utf8proc.h>

#include "engine/chat/jinja_value.h"

namespace pagoda::jinja {

std::vector<char32_t> utf8_decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i);
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) {
      out.push_back(0xDC00 + static_cast<unsigned char>(s[i]));
      ++i;
    } else {
      out.push_back(static_cast<char32_t>(cp));
      i += static_cast<std::size_t>(n);
    }
  }
  return out;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) {  // an escaped invalid byte
    out.push_back(static_cast<char>(cp - 0xDC00));
    return;
  }
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_encode(const std::vector<char32_t>& cps, std::size_t begin, std::size_t end) {
  std::string out;
  out.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i)
    utf8_append(out, cps[i]);
  return out;
}

std::size_t utf8_length(std::string_view s) {
  bool ascii = true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  return ascii ? s.size() : utf8_decode(s).size();
}

bool is_py_space(char32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:  // clang-format off
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:  // clang-format on
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

static bool is_valid_cp(char32_t cp) {
  return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

bool is_py_printable(char32_t cp) {
  if (cp == ' ') return true;
  if (!is_valid_cp(cp)) return false;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

char32_t to_upper_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (!is_valid_cp(cp)) return cp;
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}

char32_t to_lower_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (!is_valid_cp(cp)) return cp;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

static char32_t to_title_cp(char32_t cp) {
  if (cp < 0x80 || !is_valid_cp(cp)) return to_upper_cp(cp);
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)));
}

bool is_cased_cp(char32_t cp) {
  if (!is_valid_cp(cp)) return false;
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

bool is_alpha_cp(char32_t cp) {
  if (!is_valid_cp(cp)) return false;
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

bool is_digit_cp(char32_t cp) {
  if (!is_valid_cp(cp)) return false;
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_ND;
}

std::string py_upper(std::string_view s) {
  std::string out;
  for (char32_t cp : utf8_decode(s))
    utf8_append(out, to_upper_cp(cp));
  return out;
}

std::string py_lower(std::string_view s) {
  std::string out;
  for (char32_t cp : utf8_decode(s))
    utf8_append(out, to_lower_cp(cp));
  return out;
}

std::string py_title(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (char32_t cp : utf8_decode(s)) {
    utf8_append(out, previous_cased ? to_lower_cp(cp) : to_title_cp(cp));
    previous_cased = is_cased_cp(cp);
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (char32_t cp : utf8_decode(s)) {
    utf8_append(out, first ? to_title_cp(cp) : to_lower_cp(cp));
    first = false;
  }
  return out;
}

std::string py_strip(std::string_view s, const std::string* chars, StripSide side) {
  std::vector<char32_t> cps = utf8_decode(s);
  std::vector<char32_t> set;
  if (chars != nullptr) set = utf8_decode(*chars);
  auto strip_it = [&](char32_t cp) {
    if (chars == nullptr) return is_py_space(cp);
    for (char32_t c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  std::size_t begin = 0;
  std::size_t end = cps.size();
  if (side != StripSide::kRight) {
    while (begin < end && strip_it(cps[begin]))
      ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && strip_it(cps[end - 1]))
      --end;
  }
  return utf8_encode(cps, begin, end);
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep, std::int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep == nullptr) {
    std::vector<char32_t> cps = utf8_decode(s);
    std::size_t i = 0;
    const std::size_t n = cps.size();
    while (true) {
      while (i < n && is_py_space(cps[i]))
        ++i;
      if (i >= n) break;
      if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) >= maxsplit) {
        std::size_t end = n;
        while (end > i && is_py_space(cps[end - 1]))
          --end;
        out.push_back(utf8_encode(cps, i, end));
        break;
      }
      std::size_t j = i;
      while (j < n && !is_py_space(cps[j]))
        ++j;
      out.push_back(utf8_encode(cps, i, j));
      i = j;
    }
    return out;
  }
  if (sep->empty()) throw_runtime("ValueError: empty separator");
  std::size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) >= maxsplit) break;
    std::size_t pos = s.find(*sep, start);
    if (pos == std::string_view::npos) break;
    out.emplace_back(s.substr(start, pos - start));
    start = pos + sep->size();
  }
  out.emplace_back(s.substr(start));
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, std::int64_t maxsplit) {
  if (maxsplit < 0) return py_split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep == nullptr) {
    std::vector<char32_t> cps = utf8_decode(s);
    std::size_t end = cps.size();
    while (true) {
      while (end > 0 && is_py_space(cps[end - 1]))
        --end;
      if (end == 0) break;
      if (static_cast<std::int64_t>(out.size()) >= maxsplit) {
        std::size_t begin = 0;
        while (begin < end && is_py_space(cps[begin]))
          ++begin;
        out.push_back(utf8_encode(cps, begin, end));
        break;
      }
      std::size_t j = end;
      while (j > 0 && !is_py_space(cps[j - 1]))
        --j;
      out.push_back(utf8_encode(cps, j, end));
      end = j;
    }
  } else {
    if (sep->empty()) throw_runtime("ValueError: empty separator");
    std::size_t end = s.size();
    while (static_cast<std::int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      std::size_t pos = s.rfind(*sep, end - sep->size());
      if (pos == std::string_view::npos) break;
      out.emplace_back(s.substr(pos + sep->size(), end - pos - sep->size()));
      end = pos;
    }
    out.emplace_back(s.substr(0, end));
  }
  return {out.rbegin(), out.rend()};
}

std::string py_replace(std::string_view s, std::string_view old_text, std::string_view new_text,
                       std::int64_t count, std::size_t max_bytes) {
  std::string out;
  auto check = [&] {
    if (out.size() > max_bytes) {
      throw JinjaError(JinjaError::Kind::kLimit, "string result exceeds the size limit");
    }
  };
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end.
    std::vector<char32_t> cps = utf8_decode(s);
    std::int64_t done = 0;
    for (char32_t cp : cps) {
      if (count < 0 || done < count) {
        out.append(new_text);
        ++done;
      }
      utf8_append(out, cp);
      check();
    }
    if (count < 0 || done < count) out.append(new_text);
    check();
    return out;
  }
  std::size_t start = 0;
  std::int64_t done = 0;
  while (count < 0 || done < count) {
    std::size_t pos = s.find(old_text, start);
    if (pos == std::string_view::npos) break;
    out.append(s.substr(start, pos - start));
    out.append(new_text);
    check();
    start = pos + old_text.size();
    ++done;
  }
  out.append(s.substr(start));
  check();
  return out;
}

}  // namespace pagoda::jinja
