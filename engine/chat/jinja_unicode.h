// Unicode helpers for the Jinja interpreter: Python str semantics (code point indexing, whitespace,
// case mapping, printability) over UTF-8 std::string. Pure functions; any thread.
// Invalid UTF-8 bytes decode as single code points U+DC80..U+DCFF (Python's surrogateescape).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::jinja {

std::vector<char32_t> utf8_decode(std::string_view s);
void utf8_append(std::string& out, char32_t cp);
std::string utf8_encode(const std::vector<char32_t>& cps, std::size_t begin, std::size_t end);
// Number of code points.
std::size_t utf8_length(std::string_view s);

// Python str.isspace() for one code point.
bool is_py_space(char32_t cp);
bool is_py_printable(char32_t cp);
char32_t to_upper_cp(char32_t cp);
char32_t to_lower_cp(char32_t cp);
bool is_cased_cp(char32_t cp);
bool is_alpha_cp(char32_t cp);
bool is_digit_cp(char32_t cp);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);

enum class StripSide { kLeft, kRight, kBoth };
// Python str.strip/lstrip/rstrip; `chars` null strips whitespace.
std::string py_strip(std::string_view s, const std::string* chars, StripSide side);
// Python str.split(sep, maxsplit); `sep` null splits on whitespace runs. Throws on an empty sep.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, std::int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, std::int64_t maxsplit);
// Python str.replace(old, new, count); count < 0 replaces all.
std::string py_replace(std::string_view s, std::string_view old_text, std::string_view new_text,
                       std::int64_t count, std::size_t max_bytes);

}  // namespace pagoda::jinja
