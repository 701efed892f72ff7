// Splitter: finds the regex matches a pre-tokenizer "Split" step isolates.
// Implementations are immutable after construction; any thread may call them.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace pagoda {

// A byte range [begin, end) of a text.
struct TextSpan {
  std::size_t begin;
  std::size_t end;
};

class Splitter {
 public:
  virtual ~Splitter() = default;
  // Appends the non-empty, non-overlapping, left-to-right matches in `text`
  // (valid UTF-8) to `matches`, offsets relative to text.
  virtual void find_matches(std::string_view text, std::vector<TextSpan>& matches) const = 0;
};

}  // namespace pagoda
