// Small scanners shared by the streaming model-output parsers (reasoning and
// tool calls). Pure functions; any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace pagoda {

// Whitespace as JSON defines it (space, tab, LF, CR).
inline bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Length of the longest proper prefix of `tag` that `s` ends with: how much of
// `s` a streaming parser must hold back because it may be the start of `tag`.
inline std::size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (std::size_t k = std::min(s.size(), tag.size() - 1); k > 0; --k) {
    if (s.substr(s.size() - k) == tag.substr(0, k)) return k;
  }
  return 0;
}

}  // namespace pagoda
