#include "engine/tokenizer/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace pagoda {
namespace {

// Oniguruma's Unicode \s (and Rust's char::is_whitespace): U+0009..U+000D,
// U+0085 and the separators Zs, Zl, Zp. PCRE2's UCP \s also holds U+180E.
constexpr std::string_view kSpaceItems = R"(\x{9}-\x{D}\x{85}\p{Z})";
// Oniguruma's Unicode \w: Letter, Mark, Decimal_Number, Connector_Punctuation.
constexpr std::string_view kWordItems = R"(\p{L}\p{M}\p{Nd}\p{Pc})";

std::string pcre2_error_text(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof(buffer)) < 0) return "error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(std::unique_ptr<Compiled> compiled) : compiled_(std::move(compiled)) {}
RegexSplitter::~RegexSplitter() = default;

StatusOr<std::string> RegexSplitter::translate(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      switch (e) {
        case 's':
          if (in_class) {
            out.append(kSpaceItems);
          } else {
            out.append("[").append(kSpaceItems).append("]");
          }
          break;
        case 'S':
          if (in_class) return unimplemented("\\S inside a character class is not supported");
          out.append("[^").append(kSpaceItems).append("]");
          break;
        case 'w':
          if (in_class) {
            out.append(kWordItems);
          } else {
            out.append("[").append(kWordItems).append("]");
          }
          break;
        case 'W':
          if (in_class) return unimplemented("\\W inside a character class is not supported");
          out.append("[^").append(kWordItems).append("]");
          break;
        default:
          out.push_back('\\');
          out.push_back(e);
          break;
      }
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        const std::size_t close = pattern.find(":]", i + 2);
        if (close == std::string_view::npos) return invalid_argument("unterminated POSIX class in pattern");
        out.append(pattern.substr(i, close + 2 - i));
        i = close + 1;
        continue;
      }
      if (c == '[') return unimplemented("nested character classes (Oniguruma syntax) are not supported");
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
      continue;
    }
    out.push_back(c);
  }
  if (in_class) return invalid_argument("unterminated character class in pattern");
  return out;
}

StatusOr<std::unique_ptr<RegexSplitter>> RegexSplitter::compile(const std::string& pcre_pattern,
                                                                bool literal) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // PCRE2_LITERAL does not combine with PCRE2_UCP (a literal has no classes).
  const std::uint32_t options =
      PCRE2_UTF | PCRE2_NO_UTF_CHECK | (literal ? PCRE2_LITERAL : static_cast<std::uint32_t>(PCRE2_UCP));
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre_pattern.data()), pcre_pattern.size(),
                                   options, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return invalid_argument("regex does not compile at offset " + std::to_string(error_offset) + ": " +
                            pcre2_error_text(error_code));
  }
  auto compiled = std::make_unique<Compiled>();
  compiled->code = code;
  // Without JIT support PCRE2 falls back to its interpreter: slower, same answers.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return std::unique_ptr<RegexSplitter>(new RegexSplitter(std::move(compiled)));
}

StatusOr<std::unique_ptr<RegexSplitter>> RegexSplitter::create(std::string_view pattern) {
  PAGODA_ASSIGN_OR_RETURN(std::string translated, translate(pattern));
  return compile(translated, false);
}

StatusOr<std::unique_ptr<RegexSplitter>> RegexSplitter::create_literal(std::string_view literal) {
  if (literal.empty()) return invalid_argument("empty split string");
  return compile(std::string(literal), true);
}

void RegexSplitter::find_matches(std::string_view text, std::vector<TextSpan>& matches) const {
  pcre2_code* code = compiled_->code;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code, nullptr);
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t offset = 0;
  while (offset < text.size()) {
    int rc = pcre2_match(code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, data, context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && jit_stack == nullptr) {
      // Long runs of one class can exhaust the default 32 KiB JIT stack.
      jit_stack = pcre2_jit_stack_create(64 * 1024, 256 * 1024 * 1024, nullptr);
      context = pcre2_match_context_create(nullptr);
      pcre2_jit_stack_assign(context, nullptr, jit_stack);
      rc = pcre2_match(code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, data, context);
    }
    if (rc < 0) break;  // no further match (or a resource error: the rest stays unmatched)
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (end == begin) {
      // Empty match: step over one character.
      offset = end + 1;
      while (offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80)
        ++offset;
      continue;
    }
    matches.push_back({begin, end});
    offset = end;
  }
  pcre2_match_data_free(data);
  pcre2_match_context_free(context);
  pcre2_jit_stack_free(jit_stack);
}

}  // namespace pagoda
