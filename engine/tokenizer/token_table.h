// TokenTable: for every token id, its vocabulary string (as tokenizer.json
// spells it, e.g. "Ġhello") and the raw bytes it stands for. Built once by
// the loader; const reads from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda {

class TokenTable {
 public:
  // Makes room for ids [0, num_ids); ids never set read as "".
  void resize(std::size_t num_ids) {
    text_spans_.assign(num_ids, Span{0, 0});
    byte_spans_.assign(num_ids, Span{0, 0});
    present_.assign(num_ids, 0);
  }

  void set(std::int32_t id, std::string_view text, std::string_view bytes) {
    const auto i = static_cast<std::size_t>(id);
    text_spans_[i] = Span{text_arena_.size(), text.size()};
    text_arena_.append(text);
    byte_spans_[i] = Span{bytes_arena_.size(), bytes.size()};
    bytes_arena_.append(bytes);
    present_[i] = 1;
  }

  std::size_t size() const { return present_.size(); }
  bool has(std::int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < present_.size() &&
           present_[static_cast<std::size_t>(id)];
  }
  // Unchecked: `id` must be in [0, size()).
  std::string_view text(std::int32_t id) const {
    return view(text_arena_, text_spans_[static_cast<std::size_t>(id)]);
  }
  std::string_view bytes(std::int32_t id) const {
    return view(bytes_arena_, byte_spans_[static_cast<std::size_t>(id)]);
  }

 private:
  struct Span {
    std::size_t offset;
    std::size_t length;
  };
  static std::string_view view(const std::string& arena, Span s) {
    return {arena.data() + s.offset, s.length};
  }

  std::string text_arena_;
  std::string bytes_arena_;
  std::vector<Span> text_spans_;
  std::vector<Span> byte_spans_;
  std::vector<std::uint8_t> present_;
};

}  // namespace pagoda
