// Filters and tests (see jinja_builtins.h), following jinja2 3.x and transformers' tojson.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>

#include "engine/chat/jinja_builtins.h"
#include "engine/chat/jinja_unicode.h"

namespace pagoda::jinja {

BoundArgs::BoundArgs(const CallArgs& args, std::string_view function,
                     std::initializer_list<std::string_view> params)
    : values_(params.size(), nullptr) {
  if (args.positional.size() > params.size()) {
    throw_runtime("TypeError: " + std::string(function) + "() takes at most " +
                  std::to_string(params.size()) + " argument(s) (" + std::to_string(args.positional.size()) +
                  " given)");
  }
  for (std::size_t i = 0; i < args.positional.size(); ++i)
    values_[i] = &args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    auto it = std::find(params.begin(), params.end(), key);
    if (it == params.end()) {
      throw_runtime("TypeError: " + std::string(function) + "() got an unexpected keyword argument '" + key +
                    "'");
    }
    auto index = static_cast<std::size_t>(it - params.begin());
    if (values_[index] != nullptr) {
      throw_runtime("TypeError: " + std::string(function) + "() got multiple values for argument '" + key +
                    "'");
    }
    values_[index] = &value;
  }
}

namespace {

const std::string kDot = ".";
const std::string kNewline = "\n";

constexpr std::string_view kFilters[] = {
    "abs",     "attr",    "capitalize", "count",  "d",      "default",    "dictsort",  "e",
    "escape",  "first",   "float",      "indent", "int",    "items",      "join",      "last",
    "length",  "list",    "lower",      "map",    "max",    "min",        "reject",    "rejectattr",
    "replace", "reverse", "round",      "safe",   "select", "selectattr", "sort",      "string",
    "sum",     "title",   "tojson",     "trim",   "unique", "upper",      "wordcount", "pprint"};

constexpr std::string_view kTests[] = {
    "boolean",  "callable", "defined",   "divisibleby", "eq",   "equalto", "escaped",  "even",   "false",
    "float",    "ge",       "gt",        "greaterthan", "in",   "integer", "iterable", "le",     "lower",
    "lessthan", "lt",       "mapping",   "ne",          "none", "number",  "odd",      "sameas", "sequence",
    "string",   "true",     "undefined", "upper",       "==",   "!=",      "filter"};

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Jinja's title filter: capitalise the first character of each word (split at [-\s({\[<]).
std::string jinja_title(const std::string& s) {
  std::vector<char32_t> cps = utf8_decode(s);
  auto is_sep = [](char32_t c) {
    return is_py_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
  };
  std::string out;
  bool word_start = true;
  for (char32_t cp : cps) {
    if (is_sep(cp)) {
      utf8_append(out, cp);
      word_start = true;
    } else {
      utf8_append(out, word_start ? to_upper_cp(cp) : to_lower_cp(cp));
      word_start = false;
    }
  }
  return out;
}

bool parse_int(std::string text, std::int64_t* out) {
  std::string t = py_strip(text, nullptr, StripSide::kBoth);
  std::string digits;
  std::size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
  for (; i < t.size(); ++i) {
    if (t[i] == '_' && !digits.empty() && i + 1 < t.size() && t[i + 1] != '_') continue;
    if (t[i] < '0' || t[i] > '9') return false;
    digits.push_back(t[i]);
  }
  if (digits.empty()) return false;
  std::int64_t v = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) return false;
  }
  *out = negative ? -v : v;
  return true;
}

bool parse_float(const std::string& text, double* out) {
  std::string t = py_strip(text, nullptr, StripSide::kBoth);
  if (t.empty()) return false;
  char* end = nullptr;
  double d = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return false;
  *out = d;
  return true;
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(py_lower(v.as_string()));
  return v;
}

Value attribute_of(const Value& item, const Value* attribute, const BuiltinLimits& limits) {
  if (attribute == nullptr || attribute->is_none()) return item;
  if (attribute->is_int()) return get_item(item, *attribute, limits);
  // Dotted paths: "a.b" looks up a then b.
  Value cur = item;
  for (const std::string& part : py_split(to_str(*attribute), &kDot, -1)) {
    cur = get_item(cur, Value(part), limits);
  }
  return cur;
}

CallArgs rest_args(const CallArgs& args, std::size_t skip) {
  CallArgs rest;
  rest.positional.assign(
      args.positional.begin() + static_cast<std::ptrdiff_t>(std::min(skip, args.positional.size())),
      args.positional.end());
  rest.keyword = args.keyword;
  return rest;
}

Value select_filter(const std::string& name, const Value& seq, const CallArgs& args,
                    const BuiltinLimits& limits) {
  const bool by_attr = name == "selectattr" || name == "rejectattr";
  const bool keep = name == "select" || name == "selectattr";
  std::size_t skip = 0;
  const Value* attr = nullptr;
  if (by_attr) {
    if (args.positional.empty()) throw_runtime("TypeError: " + name + "() missing the attribute argument");
    attr = &args.positional[0];
    skip = 1;
  }
  std::string test;
  if (args.positional.size() > skip) {
    test = to_str(args.positional[skip]);
    ++skip;
  }
  CallArgs rest = rest_args(args, skip);
  ValueList out;
  for (const Value& item : iterate(seq)) {
    Value subject = by_attr ? attribute_of(item, attr, limits) : item;
    bool ok = test.empty() ? subject.truthy() : call_test(test, subject, rest);
    if (ok == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

Value map_filter(const Value& seq, const CallArgs& args, const BuiltinLimits& limits) {
  ValueList out;
  if (args.positional.empty()) {
    BoundArgs a(args, "map", {"attribute", "default"});
    for (const Value& item : iterate(seq)) {
      Value v = attribute_of(item, a.get(0), limits);
      if (v.is_undefined() && a.has(1)) v = *a.get(1);
      out.push_back(std::move(v));
    }
  } else {
    std::string filter = to_str(args.positional[0]);
    CallArgs rest = rest_args(args, 1);
    for (const Value& item : iterate(seq))
      out.push_back(call_filter(filter, item, rest, limits));
  }
  return Value(std::move(out));
}

Value tojson_filter(const Value& v, const CallArgs& args) {
  BoundArgs a(args, "tojson", {"indent", "ensure_ascii", "sort_keys"});
  std::string indent;
  const std::string* indent_ptr = nullptr;
  if (a.has(0) && !a.get(0)->is_none()) {
    if (a.get(0)->is_string()) {
      indent = a.get(0)->as_string();
    } else if (a.get(0)->is_int()) {
      indent.assign(static_cast<std::size_t>(std::clamp<std::int64_t>(a.get(0)->as_int(), 0, 64)), ' ');
    } else {
      throw_runtime("TypeError: tojson indent must be an int or a string");
    }
    indent_ptr = &indent;
  }
  if (a.has(2) && a.get(2)->truthy()) throw_runtime("tojson: sort_keys=True is not supported");
  std::string out = to_json(v, indent_ptr);
  if (a.has(1) && a.get(1)->truthy()) {  // ensure_ascii: escape non-ASCII as \uXXXX (surrogate pairs)
    std::string ascii;
    for (char32_t cp : utf8_decode(out)) {
      char buf[16];
      if (cp < 0x80) {
        ascii.push_back(static_cast<char>(cp));
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
        ascii += buf;
      } else {
        char32_t c = cp - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (c >> 10)),
                      static_cast<unsigned>(0xDC00 + (c & 0x3FF)));
        ascii += buf;
      }
    }
    out = std::move(ascii);
  }
  return Value(std::move(out));
}

Value sorted_list(const Value& seq, bool reverse, bool case_sensitive, const Value* attribute,
                  const BuiltinLimits& limits) {
  ValueList items = iterate(seq);
  std::vector<std::pair<Value, std::size_t>> keyed;
  for (std::size_t i = 0; i < items.size(); ++i) {
    keyed.emplace_back(sort_key(attribute_of(items[i], attribute, limits), case_sensitive), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare_op(CompareOp::kLt, y.first, x.first)
                   : compare_op(CompareOp::kLt, x.first, y.first);
  });
  ValueList out;
  for (const auto& [_, i] : keyed)
    out.push_back(items[i]);
  return Value(std::move(out));
}

}  // namespace

bool is_known_filter(std::string_view name) {
  return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

bool is_known_test(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

Value call_filter(const std::string& name, const Value& v, const CallArgs& args,
                  const BuiltinLimits& limits) {
  if (name == "tojson") return tojson_filter(v, args);
  if (name == "length" || name == "count") {
    BoundArgs a(args, name, {});
    return Value(length_of(v));
  }
  if (name == "default" || name == "d") {
    BoundArgs a(args, name, {"default_value", "boolean"});
    bool use_default = v.is_undefined() || (a.has(1) && a.get(1)->truthy() && !v.truthy());
    if (!use_default) return v;
    return a.has(0) ? *a.get(0) : Value("");
  }
  if (name == "safe") return v;
  if (name == "string") return Value(to_str(v));
  if (name == "trim") {
    BoundArgs a(args, name, {"chars"});
    const std::string* chars = a.has(0) && !a.get(0)->is_none() ? &a.get(0)->as_string() : nullptr;
    if (a.has(0) && !a.get(0)->is_none() && !a.get(0)->is_string())
      throw_runtime("TypeError: trim chars must be str");
    return Value(py_strip(to_str(v), chars, StripSide::kBoth));
  }
  if (name == "upper") return Value(py_upper(to_str(v)));
  if (name == "lower") return Value(py_lower(to_str(v)));
  if (name == "capitalize") return Value(py_capitalize(to_str(v)));
  if (name == "title") return Value(jinja_title(to_str(v)));
  if (name == "escape" || name == "e") return Value(html_escape(to_str(v)));
  if (name == "replace") {
    BoundArgs a(args, name, {"old", "new", "count"});
    if (!a.has(0) || !a.has(1)) throw_runtime("TypeError: replace() needs old and new");
    std::int64_t count = a.has(2) && !a.get(2)->is_none() ? a.get(2)->to_int() : -1;
    return Value(py_replace(to_str(v), to_str(*a.get(0)), to_str(*a.get(1)), count, limits.max_string_bytes));
  }
  if (name == "first" || name == "last") {
    BoundArgs a(args, name, {});
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    BoundArgs a(args, name, {"d", "attribute"});
    std::string sep = a.has(0) ? to_str(*a.get(0)) : "";
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += to_str(a.has(1) ? attribute_of(item, a.get(1), limits) : item);
      if (out.size() > limits.max_string_bytes)
        throw JinjaError(JinjaError::Kind::kLimit, "join result too large");
    }
    return Value(std::move(out));
  }
  if (name == "list") return Value(iterate(v));
  if (name == "items") {
    BoundArgs a(args, name, {});
    if (v.is_undefined()) return Value(ValueList{});
    if (!v.is_dict()) throw_runtime("TypeError: Can only get item pairs from a mapping.");
    ValueList out;
    for (const auto& [k, val] : v.as_dict().entries())
      out.emplace_back(ValueList{Value(k), val});
    return Value(std::move(out));
  }
  if (name == "dictsort") {
    BoundArgs a(args, name, {"case_sensitive", "by", "reverse"});
    if (!v.is_dict()) throw_runtime("TypeError: dictsort needs a mapping");
    bool by_value = a.has(1) && to_str(*a.get(1)) == "value";
    ValueList pairs;
    for (const auto& [k, val] : v.as_dict().entries())
      pairs.emplace_back(ValueList{Value(k), val});
    Value index(static_cast<std::int64_t>(by_value ? 1 : 0));
    return sorted_list(Value(std::move(pairs)), a.has(2) && a.get(2)->truthy(),
                       a.has(0) && a.get(0)->truthy(), &index, limits);
  }
  if (name == "int") {
    BoundArgs a(args, name, {"default", "base"});
    Value fallback = a.has(0) ? *a.get(0) : Value(std::int64_t{0});
    if (v.is_undefined()) throw_undefined(v);
    if (v.is_int() || v.is_bool()) return Value(v.to_int());
    double d = 0;
    if (v.is_float()) {
      d = v.as_float();
    } else if (v.is_string()) {
      std::int64_t i = 0;
      if (parse_int(v.as_string(), &i)) return Value(i);
      if (!parse_float(v.as_string(), &d)) return fallback;
    } else {
      return fallback;
    }
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18)
      throw_runtime("OverflowError: cannot convert float to integer");
    return Value(static_cast<std::int64_t>(d));
  }
  if (name == "float") {
    BoundArgs a(args, name, {"default"});
    Value fallback = a.has(0) ? *a.get(0) : Value(0.0);
    if (v.is_undefined()) throw_undefined(v);
    if (v.is_number()) return Value(v.to_float());
    double d = 0;
    if (v.is_string() && parse_float(v.as_string(), &d)) return Value(d);
    return fallback;
  }
  if (name == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_int() || v.is_bool()) {
      if (v.to_int() == std::numeric_limits<std::int64_t>::min())
        throw_runtime("OverflowError: integer overflow");
      return Value(v.to_int() < 0 ? -v.to_int() : v.to_int());
    }
    throw_runtime("TypeError: bad operand type for abs(): '" + v.type_name() + "'");
  }
  if (name == "round") {
    BoundArgs a(args, name, {"precision", "method"});
    if (!v.is_number()) throw_runtime("TypeError: round needs a number");
    std::int64_t precision = a.has(0) ? a.get(0)->to_int() : 0;
    std::string method = a.has(1) ? to_str(*a.get(1)) : "common";
    double scale = std::pow(10.0, static_cast<double>(std::clamp<std::int64_t>(precision, -300, 300)));
    double x = v.to_float() * scale;
    x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
    return Value(x / scale);
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<char32_t> cps = utf8_decode(v.as_string());
      std::reverse(cps.begin(), cps.end());
      return Value(utf8_encode(cps, 0, cps.size()));
    }
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "unique") {
    BoundArgs a(args, name, {"case_sensitive", "attribute"});
    bool cs = a.has(0) && a.get(0)->truthy();
    ValueList out;
    ValueList seen;
    for (const Value& item : iterate(v)) {
      Value key = sort_key(attribute_of(item, a.get(1), limits), cs);
      bool dup = false;
      for (const Value& s : seen)
        dup = dup || values_equal(s, key);
      if (!dup) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value(std::move(out));
  }
  if (name == "sort") {
    BoundArgs a(args, name, {"reverse", "case_sensitive", "attribute"});
    return sorted_list(v, a.has(0) && a.get(0)->truthy(), a.has(1) && a.get(1)->truthy(), a.get(2), limits);
  }
  if (name == "min" || name == "max") {
    BoundArgs a(args, name, {"case_sensitive", "attribute"});
    Value sorted = sorted_list(v, false, a.has(0) && a.get(0)->truthy(), a.get(1), limits);
    if (sorted.as_list().empty()) return Value::undefined("No aggregated item, sequence was empty.");
    return name == "min" ? sorted.as_list().front() : sorted.as_list().back();
  }
  if (name == "sum") {
    BoundArgs a(args, name, {"attribute", "start"});
    Value total = a.has(1) ? *a.get(1) : Value(std::int64_t{0});
    for (const Value& item : iterate(v))
      total = binary_op(BinaryOp::kAdd, total, attribute_of(item, a.get(0), limits), limits);
    return total;
  }
  if (name == "map") return map_filter(v, args, limits);
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return select_filter(name, v, args, limits);
  }
  if (name == "attr") {
    BoundArgs a(args, name, {"name"});
    if (!a.has(0)) throw_runtime("TypeError: attr() needs a name");
    return get_attr(v, to_str(*a.get(0)), limits);
  }
  if (name == "indent") {
    BoundArgs a(args, name, {"width", "first", "blank"});
    std::string pad =
        a.has(0)
            ? (a.get(0)->is_string()
                   ? a.get(0)->as_string()
                   : std::string(
                         static_cast<std::size_t>(std::clamp<std::int64_t>(a.get(0)->to_int(), 0, 256)), ' '))
            : std::string(4, ' ');
    bool first = a.has(1) && a.get(1)->truthy();
    bool blank = a.has(2) && a.get(2)->truthy();
    std::string s = to_str(v);
    std::vector<std::string> lines = py_split(s, &kNewline, -1);
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out += "\n";
      bool indent_it = (i > 0 || first) && (blank || !py_strip(lines[i], nullptr, StripSide::kBoth).empty());
      if (indent_it) out += pad;
      out += lines[i];
      if (out.size() > limits.max_string_bytes)
        throw JinjaError(JinjaError::Kind::kLimit, "indent result too large");
    }
    return Value(std::move(out));
  }
  if (name == "wordcount") return Value(static_cast<std::int64_t>(py_split(to_str(v), nullptr, -1).size()));
  if (name == "pprint") return Value(to_repr(v));
  throw_runtime("no filter named '" + name + "'");
}

bool call_test(const std::string& name, const Value& v, const CallArgs& args) {
  auto arg = [&](const char* what) -> const Value& {
    if (args.positional.empty()) throw_runtime("TypeError: test '" + name + "' needs " + what);
    return args.positional[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_undefined() || v.is_list() || v.is_dict() || v.is_string();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    std::string s = to_str(v);
    bool any_cased = false;
    bool ok = true;
    for (char32_t cp : utf8_decode(s)) {
      if (!is_cased_cp(cp)) continue;
      any_cased = true;
      if (name == "upper" ? to_upper_cp(cp) != cp : to_lower_cp(cp) != cp) ok = false;
    }
    return any_cased && ok;
  }
  if (name == "even" || name == "odd") {
    if (!v.is_int() && !v.is_bool()) throw_runtime("TypeError: test '" + name + "' needs an integer");
    return (v.to_int() % 2 == 0) == (name == "even");
  }
  if (name == "divisibleby") {
    const Value& n = arg("a number");
    Value r = binary_op(BinaryOp::kMod, v, n, BuiltinLimits{});
    return values_equal(r, Value(std::int64_t{0}));
  }
  if (name == "eq" || name == "equalto" || name == "==") return compare_op(CompareOp::kEq, v, arg("a value"));
  if (name == "ne" || name == "!=") return compare_op(CompareOp::kNe, v, arg("a value"));
  if (name == "lt" || name == "lessthan") return compare_op(CompareOp::kLt, v, arg("a value"));
  if (name == "le") return compare_op(CompareOp::kLe, v, arg("a value"));
  if (name == "gt" || name == "greaterthan") return compare_op(CompareOp::kGt, v, arg("a value"));
  if (name == "ge") return compare_op(CompareOp::kGe, v, arg("a value"));
  if (name == "in") return compare_op(CompareOp::kIn, v, arg("a container"));
  if (name == "sameas") {
    const Value& other = arg("a value");
    if (v.kind() != other.kind()) return false;
    if (v.is_list() || v.is_dict() || v.is_namespace() || v.is_callable())
      return values_equal(v, other) && v.depth() == other.depth();
    return values_equal(v, other);
  }
  if (name == "filter") return is_known_filter(to_str(v));
  throw_runtime("no test named '" + name + "'");
}

}  // namespace pagoda::jinja
