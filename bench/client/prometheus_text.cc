#include "bench/client/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace pagoda::bench {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return is_alpha(c) || c == '_' || c == ':';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}
bool is_label_start(char c) {
  return is_alpha(c) || c == '_';
}
bool is_label_char(char c) {
  return is_label_start(c) || is_digit(c);
}

// A cursor over one line. Every read checks bounds; nothing trusts the input.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : s_(line) {}

  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  void skip_space() {
    while (!done() && is_space(s_[pos_]))
      ++pos_;
  }
  bool consume(char c) {
    if (peek() != c || done()) return false;
    ++pos_;
    return true;
  }
  // The next run of non-whitespace characters (may be empty).
  std::string_view token() {
    std::size_t start = pos_;
    while (!done() && !is_space(s_[pos_]))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // [a-zA-Z_:][a-zA-Z0-9_:]* or empty.
  std::string_view metric_name() {
    if (done() || !is_name_start(s_[pos_])) return {};
    std::size_t start = pos_;
    while (!done() && is_name_char(s_[pos_]))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // [a-zA-Z_][a-zA-Z0-9_]* or empty.
  std::string_view label_name() {
    if (done() || !is_label_start(s_[pos_])) return {};
    std::size_t start = pos_;
    while (!done() && is_label_char(s_[pos_]))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A double-quoted label value with \\ \" \n escapes; false when unterminated.
  // Unknown escapes are kept as written, as Prometheus does.
  bool quoted_value(std::string* out) {
    if (!consume('"')) return false;
    while (!done()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (done()) return false;
      char e = s_[pos_++];
      if (e == 'n') {
        out->push_back('\n');
      } else if (e == '\\' || e == '"') {
        out->push_back(e);
      } else {
        out->push_back('\\');
        out->push_back(e);
      }
    }
    return false;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// Go's strconv.ParseFloat spellings used by exporters: decimal and exponent
// forms, NaN, Inf, +Inf, -Inf (case-insensitive). The whole token must parse.
bool parse_value(std::string_view token, double* out) {
  if (token.empty()) return false;
  bool negative = false;
  if (token[0] == '+' || token[0] == '-') {
    negative = token[0] == '-';
    token.remove_prefix(1);
    if (token.empty() || token[0] == '+' || token[0] == '-') return false;
  }
  double v = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || end != token.data() + token.size()) {
    // from_chars reports out-of-range for 1e999; Go returns +-Inf there.
    if (ec != std::errc::result_out_of_range || end != token.data() + token.size()) return false;
    // Out of range: 1e999 is +Inf in Go, 1e-999 (or 0.000...1) is 0.
    std::size_t e = token.find_first_of("eE");
    bool underflow = e != std::string_view::npos ? (e + 1 < token.size() && token[e + 1] == '-')
                                                 : token.substr(0, 2) == "0.";
    v = underflow ? 0.0 : std::numeric_limits<double>::infinity();
  }
  *out = negative ? -v : v;
  return true;
}

bool parse_timestamp(std::string_view token, std::int64_t* out) {
  if (!token.empty() && token[0] == '+') token.remove_prefix(1);
  if (token.empty()) return false;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || end != token.data() + token.size()) return false;
  *out = v;
  return true;
}

bool valid_type(std::string_view t) {
  return t == "counter" || t == "gauge" || t == "histogram" || t == "summary" || t == "untyped";
}

bool valid_metric_name(std::string_view name) {
  if (name.empty() || !is_name_start(name[0])) return false;
  for (char c : name)
    if (!is_name_char(c)) return false;
  return true;
}

// A `#` line: HELP and TYPE are checked, anything else is a free comment.
bool parse_comment(LineReader& r) {
  r.consume('#');
  r.skip_space();
  std::string_view keyword = r.token();
  if (keyword != "HELP" && keyword != "TYPE") return true;
  r.skip_space();
  std::string_view name = r.token();
  if (!valid_metric_name(name)) return false;
  if (keyword == "HELP") return true;  // the docstring is free text
  r.skip_space();
  std::string_view type = r.token();
  r.skip_space();
  return valid_type(type) && r.done();
}

bool parse_sample(LineReader& r, PromSample* out) {
  std::string_view name = r.metric_name();
  if (name.empty()) return false;
  out->name.assign(name);
  bool spaced = is_space(r.peek());
  r.skip_space();
  if (r.consume('{')) {
    while (true) {
      r.skip_space();
      if (r.consume('}')) break;
      std::string_view key = r.label_name();
      if (key.empty()) return false;
      for (const auto& [k, v] : out->labels)
        if (k == key) return false;  // duplicate label name
      r.skip_space();
      if (!r.consume('=')) return false;
      r.skip_space();
      std::string value;
      if (!r.quoted_value(&value)) return false;
      out->labels.emplace_back(std::string(key), std::move(value));
      r.skip_space();
      if (r.consume(',')) continue;  // a trailing comma before '}' is allowed
      if (r.consume('}')) break;
      return false;
    }
    spaced = is_space(r.peek());
  }
  // At least one space separates the name (or '}') from the value.
  if (!spaced) return false;
  r.skip_space();
  if (!parse_value(r.token(), &out->value)) return false;
  r.skip_space();
  if (r.done()) return true;
  std::int64_t ts = 0;
  if (!parse_timestamp(r.token(), &ts)) return false;
  out->timestamp_ms = ts;
  r.skip_space();
  return r.done();
}

}  // namespace

const std::string* PromSample::label(std::string_view key) const {
  for (const auto& [k, v] : labels)
    if (k == key) return &v;
  return nullptr;
}

std::vector<PromSample> parse_prometheus_text(std::string_view text, int* num_bad_lines) {
  std::vector<PromSample> samples;
  int bad = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    LineReader r(line);
    r.skip_space();
    if (r.done()) continue;
    if (r.peek() == '#') {
      if (!parse_comment(r)) ++bad;
      continue;
    }
    PromSample sample;
    if (parse_sample(r, &sample)) {
      samples.push_back(std::move(sample));
    } else {
      ++bad;
    }
  }
  if (num_bad_lines != nullptr) *num_bad_lines = bad;
  return samples;
}

std::optional<double> aggregate_metric(const std::vector<PromSample>& samples, std::string_view name,
                                       PromAggregate how) {
  std::optional<double> out;
  for (const PromSample& s : samples) {
    if (s.name != name || std::isnan(s.value)) continue;
    if (!out) {
      out = s.value;
    } else if (how == PromAggregate::kSum) {
      *out += s.value;
    } else if (s.value > *out) {
      *out = s.value;
    }
  }
  return out;
}

std::optional<double> first_metric(const std::vector<PromSample>& samples,
                                   std::span<const std::string_view> names, PromAggregate how) {
  for (std::string_view name : names) {
    std::optional<double> v = aggregate_metric(samples, name, how);
    if (v) return v;
  }
  return std::nullopt;
}

}  // namespace pagoda::bench
