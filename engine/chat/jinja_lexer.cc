#include "engine/chat/jinja_lexer.h"

#include <algorithm>
#include <cstdint>

#include "engine/chat/jinja_unicode.h"
#include "engine/chat/jinja_value.h"

namespace pagoda::jinja {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

// True when every code point of `s` is whitespace (Python's \s) and s is not empty.
bool all_space(std::string_view s) {
  if (s.empty()) return false;
  for (char32_t cp : utf8_decode(s)) {
    if (!is_py_space(cp)) return false;
  }
  return true;
}

std::string rstrip_space(std::string_view s) {
  std::vector<char32_t> cps = utf8_decode(s);
  std::size_t end = cps.size();
  while (end > 0 && is_py_space(cps[end - 1]))
    --end;
  return utf8_encode(cps, 0, end);
}

class Lexer {
 public:
  Lexer(std::string_view source, const LexerOptions& options) : options_(options) {
    // Normalise newlines as jinja2 does and drop one trailing newline.
    src_.reserve(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_.push_back('\n');
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_.push_back(source[i]);
      }
    }
    if (!options_.keep_trailing_newline && !src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    const std::size_t n = src_.size();
    std::size_t pos = 0;
    bool line_starting = true;
    while (pos < n) {
      std::size_t p = find_tag_start(pos);
      if (p == std::string::npos) {
        add(TokenKind::kText, src_.substr(pos), pos);
        break;
      }
      const char type = src_[p + 1];
      std::size_t after = p + 2;
      char sign = 0;
      if (after < n && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
      std::size_t raw_after = 0;
      const bool is_raw = type == '%' && match_raw_begin(after, &raw_after);
      std::string text = src_.substr(pos, p - pos);
      strip_before_tag(text, sign, type != '{', line_starting);
      if (!text.empty()) add(TokenKind::kText, std::move(text), pos);
      line_starting = false;
      if (is_raw) {
        pos = lex_raw(raw_after, &line_starting);
      } else if (type == '#') {
        pos = lex_comment(after, &line_starting);
      } else {
        add(type == '{' ? TokenKind::kVarBegin : TokenKind::kBlockBegin, src_.substr(p, after - p), p);
        pos = lex_tag(after, type == '%', &line_starting);
      }
    }
    add(TokenKind::kEof, "", n);
    return std::move(tokens_);
  }

 private:
  std::pair<int, int> location(std::size_t pos) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
    std::size_t line_index = static_cast<std::size_t>(it - line_starts_.begin()) - 1;
    return {static_cast<int>(line_index + 1), static_cast<int>(pos - line_starts_[line_index] + 1)};
  }

  [[noreturn]] void fail(const std::string& message, std::size_t pos) const {
    auto [line, column] = location(pos);
    throw JinjaError(JinjaError::Kind::kSyntax, message, line, column);
  }

  void add(TokenKind kind, std::string value, std::size_t pos) {
    auto [line, column] = location(pos);
    tokens_.push_back(Token{kind, std::move(value), line, column});
  }

  std::size_t find_tag_start(std::size_t from) const {
    std::size_t p = from;
    while (true) {
      p = src_.find('{', p);
      if (p == std::string::npos || p + 1 >= src_.size()) return std::string::npos;
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      ++p;
    }
  }

  bool starts_with(std::size_t pos, std::string_view s) const {
    return pos <= src_.size() && src_.compare(pos, s.size(), s) == 0;
  }

  std::size_t skip_space(std::size_t pos) const {
    while (pos < src_.size() && is_ascii_space(src_[pos]))
      ++pos;
    return pos;
  }

  // Matches `\s*raw\s*(-%}\s*|%})` at `pos`.
  bool match_raw_begin(std::size_t pos, std::size_t* end) const {
    std::size_t i = skip_space(pos);
    if (!starts_with(i, "raw")) return false;
    i = skip_space(i + 3);
    if (starts_with(i, "-%}")) {
      *end = skip_space(i + 3);
      return true;
    }
    if (starts_with(i, "%}")) {
      *end = i + 2;
      return true;
    }
    return false;
  }

  void strip_before_tag(std::string& text, char sign, bool is_block_or_comment, bool line_starting) const {
    if (sign == '-') {
      text = rstrip_space(text);
    } else if (sign != '+' && options_.lstrip_blocks && is_block_or_comment) {
      std::size_t newline = text.rfind('\n');
      std::size_t l_pos = newline == std::string::npos ? 0 : newline + 1;
      if ((l_pos > 0 || line_starting) && all_space(std::string_view(text).substr(l_pos))) text.resize(l_pos);
    }
  }

  // Consumes a block end's trailing whitespace per its sign; returns the position after it.
  std::size_t finish_block_end(std::size_t end, char sign, bool* line_starting) const {
    if (sign == '-') {
      end = skip_space_unicode(end);
    } else if (sign != '+' && options_.trim_blocks && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    *line_starting = end > 0 && src_[end - 1] == '\n';
    return end;
  }

  std::size_t skip_space_unicode(std::size_t pos) const {
    while (pos < src_.size()) {
      if (is_ascii_space(src_[pos])) {
        ++pos;
        continue;
      }
      std::vector<char32_t> cps = utf8_decode(std::string_view(src_).substr(pos, 4));
      if (cps.empty() || cps[0] < 0x80 || !is_py_space(cps[0])) break;
      std::string enc;
      utf8_append(enc, cps[0]);
      pos += enc.size();
    }
    return pos;
  }

  std::size_t lex_comment(std::size_t from, bool* line_starting) {
    std::size_t q = src_.find("#}", from);
    if (q == std::string::npos) fail("missing end of comment tag", from);
    char sign = 0;
    if (q > from && (src_[q - 1] == '-' || src_[q - 1] == '+')) sign = src_[q - 1];
    return finish_block_end(q + 2, sign, line_starting);
  }

  std::size_t lex_raw(std::size_t from, bool* line_starting) {
    std::size_t search = from;
    while (true) {
      std::size_t p = src_.find("{%", search);
      if (p == std::string::npos) fail("missing end of raw directive", from);
      std::size_t i = p + 2;
      char sign = 0;
      if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) sign = src_[i++];
      i = skip_space(i);
      if (!starts_with(i, "endraw")) {
        search = p + 2;
        continue;
      }
      i = skip_space(i + 6);
      char end_sign = 0;
      if (starts_with(i, "-%}") || starts_with(i, "+%}")) {
        end_sign = src_[i];
        i += 3;
      } else if (starts_with(i, "%}")) {
        i += 2;
      } else {
        search = p + 2;
        continue;
      }
      std::string text = src_.substr(from, p - from);
      strip_before_tag(text, sign, true, false);
      if (!text.empty()) add(TokenKind::kText, std::move(text), from);
      return finish_block_end(i, end_sign, line_starting);
    }
  }

  std::size_t lex_tag(std::size_t pos, bool is_block, bool* line_starting) {
    std::vector<char> balance;
    const std::size_t n = src_.size();
    while (true) {
      if (pos >= n)
        fail(is_block ? "unexpected end of template, expected '%}'"
                      : "unexpected end of template, expected '}}'",
             pos);
      if (balance.empty()) {
        if (is_block) {
          if (starts_with(pos, "-%}") || starts_with(pos, "+%}")) {
            add(TokenKind::kBlockEnd, "%}", pos);
            return finish_block_end(pos + 3, src_[pos], line_starting);
          }
          if (starts_with(pos, "%}")) {
            add(TokenKind::kBlockEnd, "%}", pos);
            return finish_block_end(pos + 2, 0, line_starting);
          }
        } else {
          if (starts_with(pos, "-}}")) {
            add(TokenKind::kVarEnd, "}}", pos);
            std::size_t end = skip_space_unicode(pos + 3);
            *line_starting = src_[end - 1] == '\n';
            return end;
          }
          if (starts_with(pos, "}}")) {
            add(TokenKind::kVarEnd, "}}", pos);
            *line_starting = false;
            return pos + 2;
          }
        }
      }
      const char c = src_[pos];
      if (is_ascii_space(c)) {
        ++pos;
      } else if (is_digit(c)) {
        pos = lex_number(pos);
      } else if (is_name_start(c)) {
        std::size_t end = pos;
        while (end < n && is_name_char(src_[end]))
          ++end;
        add(TokenKind::kName, src_.substr(pos, end - pos), pos);
        pos = end;
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        pos = lex_operator(pos, balance);
      }
    }
  }

  // Digits with single '_' separators: returns the end, or `pos` when none.
  std::size_t scan_digits(std::size_t pos) const {
    std::size_t i = pos;
    if (i >= src_.size() || !is_digit(src_[i])) return pos;
    while (i < src_.size()) {
      if (is_digit(src_[i])) {
        ++i;
      } else if (src_[i] == '_' && i + 1 < src_.size() && is_digit(src_[i + 1])) {
        ++i;
      } else {
        break;
      }
    }
    return i;
  }

  std::size_t lex_number(std::size_t pos) {
    const bool after_dot = pos > 0 && src_[pos - 1] == '.';
    std::size_t int_end = scan_digits(pos);
    if (!after_dot) {
      // float: digits ((.digits)? e[+-]?digits | .digits)
      std::size_t i = int_end;
      std::size_t frac_end = i;
      if (i < src_.size() && src_[i] == '.') frac_end = scan_digits(i + 1) == i + 1 ? i : scan_digits(i + 1);
      std::size_t j = frac_end;
      std::size_t exp_end = j;
      if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
        std::size_t k = j + 1;
        if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
        std::size_t d = scan_digits(k);
        if (d != k) exp_end = d;
      }
      if (exp_end != frac_end || frac_end != int_end) {
        std::string text;
        for (std::size_t k = pos; k < exp_end; ++k) {
          if (src_[k] != '_') text.push_back(src_[k]);
        }
        add(TokenKind::kFloat, text, pos);
        return exp_end;
      }
    }
    // integer: 0x.., 0o.., 0b.., [1-9](_?\d)*, 0(_?0)*
    if (src_[pos] == '0' && pos + 1 < src_.size()) {
      char p = static_cast<char>(src_[pos + 1] | 0x20);
      int base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
      if (base != 0) {
        std::size_t i = pos + 2;
        std::uint64_t value = 0;
        bool any = false;
        while (i < src_.size()) {
          char d = src_[i];
          if (d == '_' && i + 1 < src_.size()) {
            ++i;
            d = src_[i];
          }
          int v = is_digit(d) ? d - '0' : (d | 0x20) >= 'a' && (d | 0x20) <= 'f' ? (d | 0x20) - 'a' + 10 : 99;
          if (v >= base) {
            if (src_[i - 1] == '_') --i;
            break;
          }
          value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(v);
          if (value > static_cast<std::uint64_t>(INT64_MAX)) fail("integer literal too large", pos);
          any = true;
          ++i;
        }
        if (any) {
          add(TokenKind::kInt, std::to_string(value), pos);
          return i;
        }
      }
    }
    std::size_t end;
    if (src_[pos] == '0') {
      end = pos + 1;
      while (end < src_.size()) {
        if (src_[end] == '0') {
          ++end;
        } else if (src_[end] == '_' && end + 1 < src_.size() && src_[end + 1] == '0') {
          end += 2;
        } else {
          break;
        }
      }
      add(TokenKind::kInt, "0", pos);
      return end;
    }
    end = int_end;
    std::string text;
    for (std::size_t k = pos; k < end; ++k) {
      if (src_[k] != '_') text.push_back(src_[k]);
    }
    if (text.size() > 18 && (text.size() > 19 || text > "9223372036854775807")) {
      fail("integer literal too large", pos);
    }
    add(TokenKind::kInt, text, pos);
    return end;
  }

  static int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    c = static_cast<char>(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }

  std::size_t lex_string(std::size_t pos) {
    const char quote = src_[pos];
    std::size_t i = pos + 1;
    while (i < src_.size() && src_[i] != quote)
      i += src_[i] == '\\' ? 2 : 1;
    if (i >= src_.size()) fail(std::string("unexpected char '") + quote + "'", pos);
    // Python "unicode-escape" decoding of the body.
    std::string out;
    for (std::size_t k = pos + 1; k < i; ++k) {
      char c = src_[k];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      char e = src_[++k];
      switch (e) {
        case '\n':
          break;
        case '\\':
        case '\'':
        case '"':
          out.push_back(e);
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          std::uint32_t cp = 0;
          for (int d = 0; d < digits; ++d) {
            int v = k + 1 < i ? hex_value(src_[k + 1]) : -1;
            if (v < 0) fail(std::string("truncated \\") + e + " escape in string literal", k);
            cp = cp * 16 + static_cast<std::uint32_t>(v);
            ++k;
          }
          if (cp > 0x10FFFF) fail("illegal Unicode character in string literal", k);
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
          utf8_append(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            std::uint32_t cp = static_cast<std::uint32_t>(e - '0');
            for (int d = 0; d < 2 && k + 1 < i && src_[k + 1] >= '0' && src_[k + 1] <= '7'; ++d) {
              cp = cp * 8 + static_cast<std::uint32_t>(src_[++k] - '0');
            }
            utf8_append(out, cp);
          } else {
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
    add(TokenKind::kString, std::move(out), pos);
    return i + 1;
  }

  std::size_t lex_operator(std::size_t pos, std::vector<char>& balance) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (starts_with(pos, op)) {
        add(TokenKind::kOperator, std::string(op), pos);
        return pos + 2;
      }
    }
    const char c = src_[pos];
    static constexpr std::string_view kOne = "+-/*%~[](){}<>=.:|,;";
    if (kOne.find(c) == std::string_view::npos) {
      fail(std::string("unexpected char '") +
               (static_cast<unsigned char>(c) < 0x80 ? std::string(1, c) : "\\x?") + "'",
           pos);
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(std::string("unexpected '") + c + "'", pos);
      if (balance.back() != c)
        fail(std::string("unexpected '") + c + "', expected '" + balance.back() + "'", pos);
      balance.pop_back();
    }
    add(TokenKind::kOperator, std::string(1, c), pos);
    return pos + 1;
  }

  LexerOptions options_;
  std::string src_;
  std::vector<std::size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const LexerOptions& options) {
  return Lexer(source, options).run();
}

std::string describe_token(const Token& token) {
  switch (token.kind) {
    case TokenKind::kText:
      return "template data";
    case TokenKind::kVarBegin:
      return "'{{'";
    case TokenKind::kVarEnd:
      return "end of print statement";
    case TokenKind::kBlockBegin:
      return "'{%'";
    case TokenKind::kBlockEnd:
      return "end of statement block";
    case TokenKind::kEof:
      return "end of template";
    case TokenKind::kString:
      return "string";
    default:
      return "'" + token.value + "'";
  }
}

}  // namespace pagoda::jinja
