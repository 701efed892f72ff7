#include "engine/tokenizer/normalizer.h"

#include <cstdlib>
#include <cstring>

#include <utf8proc.h>

namespace pagoda {
namespace {

int options_for(NormalizationForm form) {
  switch (form) {
    case NormalizationForm::kNfc:
      return UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    case NormalizationForm::kNfd:
      return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
    case NormalizationForm::kNfkc:
      return UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    case NormalizationForm::kNfkd:
      return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  }
  return UTF8PROC_STABLE | UTF8PROC_COMPOSE;
}

// Normalizes one valid UTF-8 run with utf8proc and appends it.
void normalize_run(std::string_view run, NormalizationForm form, std::string& out) {
  utf8proc_uint8_t* dest = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()),
                                          static_cast<utf8proc_ssize_t>(run.size()), &dest,
                                          static_cast<utf8proc_option_t>(options_for(form)));
  if (n < 0) {
    out.append(run);  // unreachable for valid UTF-8 (out of memory): keep the text
  } else {
    out.append(reinterpret_cast<const char*>(dest), static_cast<std::size_t>(n));
  }
  std::free(dest);
}

std::size_t next_non_ascii(std::string_view s, std::size_t i) {
  while (i + 8 <= s.size()) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80)
    ++i;
  return i;
}

void normalize_one(std::string_view text, NormalizationForm form, std::string& out) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t j = next_non_ascii(text, i);
    if (j >= text.size()) {
      out.append(text.substr(i));
      return;
    }
    // The ASCII character before a non-ASCII run may compose with it (e + U+0301).
    const std::size_t start = j > i ? j - 1 : i;
    out.append(text.substr(i, start - i));
    std::size_t k = j;
    while (k < text.size() && static_cast<unsigned char>(text[k]) >= 0x80)
      ++k;
    normalize_run(text.substr(start, k - start), form, out);
    i = k;
  }
}

}  // namespace

void Normalizer::normalize(std::string_view text, std::string& out) const {
  if (forms_.empty()) {
    out.append(text);
    return;
  }
  if (forms_.size() == 1) {
    normalize_one(text, forms_[0], out);
    return;
  }
  std::string current(text);
  for (const NormalizationForm form : forms_) {
    std::string next;
    next.reserve(current.size());
    normalize_one(current, form, next);
    current.swap(next);
  }
  out.append(current);
}

}  // namespace pagoda
