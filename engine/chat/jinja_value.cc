#include "engine/chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/chat/jinja_unicode.h"

namespace pagoda::jinja {

std::string cat(std::initializer_list<std::string_view> pieces) {
  std::string out;
  for (std::string_view p : pieces)
    out.append(p);
  return out;
}

void throw_runtime(std::string message) {
  throw JinjaError(JinjaError::Kind::kRuntime, std::move(message));
}

const Value* ValueDict::find(std::string_view key) const {
  if (entries_.size() <= 8) {
    for (const auto& [k, v] : entries_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

static void check_depth(int depth) {
  if (depth > kMaxValueDepth) {
    throw JinjaError(JinjaError::Kind::kLimit, "value nested deeper than " + std::to_string(kMaxValueDepth));
  }
}

void ValueDict::set(std::string key, Value value) {
  depth_ = std::max(depth_, value.depth() + 1);
  check_depth(depth_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
}

Value::Value(ValueList list) {
  int depth = 1;
  for (const auto& item : list)
    depth = std::max(depth, item.depth() + 1);
  check_depth(depth);
  data_ = std::make_shared<const ListData>(ListData{std::move(list), depth});
}

Value::Value(ValueDict dict) : data_(std::make_shared<const ValueDict>(std::move(dict))) {}

int Value::depth() const {
  if (is_list()) return std::get<std::shared_ptr<const ListData>>(data_)->depth;
  if (is_dict()) return as_dict().depth();
  return 0;
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return as_bool();
    case Kind::kInt:
      return as_int() != 0;
    case Kind::kFloat:
      return as_float() != 0.0;
    case Kind::kString:
      return !as_string().empty();
    case Kind::kList:
      return !as_list().empty();
    case Kind::kDict:
      return as_dict().size() != 0;
    case Kind::kNamespace:
    case Kind::kCallable:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kCallable:
      return "function";
  }
  return "object";
}

Value Value::from_json(const nlohmann::ordered_json& json) {
  using J = nlohmann::ordered_json::value_t;
  switch (json.type()) {
    case J::null:
    case J::discarded:
    case J::binary:
      return none();
    case J::boolean:
      return Value(json.get<bool>());
    case J::number_integer:
      return Value(json.get<std::int64_t>());
    case J::number_unsigned: {
      auto u = json.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Value(static_cast<std::int64_t>(u));
      }
      return Value(static_cast<double>(u));
    }
    case J::number_float:
      return Value(json.get<double>());
    case J::string:
      return Value(json.get<std::string>());
    case J::array: {
      ValueList list;
      list.reserve(json.size());
      for (const auto& item : json)
        list.push_back(from_json(item));
      return Value(std::move(list));
    }
    case J::object: {
      ValueDict dict;
      for (const auto& [k, v] : json.items())
        dict.set(k, from_json(v));
      return Value(std::move(dict));
    }
  }
  return none();
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string out;
  if (std::signbit(d)) {
    out.push_back('-');
    d = -d;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  std::size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
  while (digits.size() > 1 && digits.back() == '0')
    digits.pop_back();
  const int decpt = exp10 + 1;
  const int ndigits = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (ndigits > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    char ebuf[16];
    std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out.append(ebuf);
  } else if (decpt <= 0) {
    out.append("0.");
    out.append(static_cast<std::size_t>(-decpt), '0');
    out.append(digits);
  } else if (decpt >= ndigits) {
    out.append(digits);
    out.append(static_cast<std::size_t>(decpt - ndigits), '0');
    out.append(".0");
  } else {
    out.append(digits, 0, static_cast<std::size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(decpt));
  }
  return out;
}

static std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t cp : utf8_decode(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out.append("\\n");
    } else if (cp == '\r') {
      out.append("\\r");
    } else if (cp == '\t') {
      out.append("\\t");
    } else if (!is_py_printable(cp)) {
      char buf[16];
      if (cp < 0x100) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(cp));
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(cp));
      }
      out.append(buf);
    } else {
      utf8_append(out, cp);
    }
  }
  out.push_back(quote);
  return out;
}

std::string to_str(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kString:
      return value.as_string();
    default:
      return to_repr(value);
  }
}

static std::string repr_impl(const Value& value, int depth);

std::string to_repr(const Value& value) {
  return repr_impl(value, 0);
}

static std::string repr_impl(const Value& value, int depth) {
  if (depth > kMaxValueDepth) throw_runtime("value nested too deeply to print");
  switch (value.kind()) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kBool:
      return value.as_bool() ? "True" : "False";
    case Value::Kind::kInt:
      return std::to_string(value.as_int());
    case Value::Kind::kFloat:
      return float_repr(value.as_float());
    case Value::Kind::kString:
      return string_repr(value.as_string());
    case Value::Kind::kList: {
      std::string out = "[";
      bool first = true;
      for (const auto& item : value.as_list()) {
        if (!first) out.append(", ");
        first = false;
        out.append(repr_impl(item, depth + 1));
      }
      return out + "]";
    }
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      const ValueDict& dict = value.is_dict() ? value.as_dict() : value.as_namespace();
      std::string out = value.is_dict() ? "{" : "<Namespace {";
      bool first = true;
      for (const auto& [k, v] : dict.entries()) {
        if (!first) out.append(", ");
        first = false;
        out.append(string_repr(k)).append(": ").append(repr_impl(v, depth + 1));
      }
      return out + (value.is_dict() ? "}" : "}>");
    }
    case Value::Kind::kCallable:
      return "<function " + value.as_callable().name + ">";
  }
  return "";
}

static void json_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", u);
          out.append(buf);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

static void json_value(std::string& out, const Value& value, const std::string* indent, int level) {
  if (level > 512) throw_runtime("tojson: value nested too deeply");
  auto newline = [&](int lvl) {
    out.push_back('\n');
    for (int i = 0; i < lvl; ++i)
      out.append(*indent);
  };
  switch (value.kind()) {
    case Value::Kind::kNone:
      out.append("null");
      return;
    case Value::Kind::kBool:
      out.append(value.as_bool() ? "true" : "false");
      return;
    case Value::Kind::kInt:
      out.append(std::to_string(value.as_int()));
      return;
    case Value::Kind::kFloat: {
      double d = value.as_float();
      if (std::isnan(d)) {
        out.append("NaN");
      } else if (std::isinf(d)) {
        out.append(d > 0 ? "Infinity" : "-Infinity");
      } else {
        out.append(float_repr(d));
      }
      return;
    }
    case Value::Kind::kString:
      json_string(out, value.as_string());
      return;
    case Value::Kind::kList: {
      const ValueList& list = value.as_list();
      if (list.empty()) {
        out.append("[]");
        return;
      }
      out.push_back('[');
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out.append(indent ? "," : ", ");
        if (indent) newline(level + 1);
        json_value(out, list[i], indent, level + 1);
      }
      if (indent) newline(level);
      out.push_back(']');
      return;
    }
    case Value::Kind::kDict: {
      const auto& entries = value.as_dict().entries();
      if (entries.empty()) {
        out.append("{}");
        return;
      }
      out.push_back('{');
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out.append(indent ? "," : ", ");
        if (indent) newline(level + 1);
        json_string(out, entries[i].first);
        out.append(": ");
        json_value(out, entries[i].second, indent, level + 1);
      }
      if (indent) newline(level);
      out.push_back('}');
      return;
    }
    default:
      throw_runtime("TypeError: Object of type " + value.type_name() + " is not JSON serializable");
  }
}

std::string to_json(const Value& value, const std::string* indent) {
  std::string out;
  json_value(out, value, indent, 0);
  return out;
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_float() == b.to_float();
    return a.to_int() == b.to_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kList: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!values_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (other == nullptr || !values_equal(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::kNamespace:
      return &a.as_namespace() == &b.as_namespace();
    case Value::Kind::kCallable:
      return &a.as_callable() == &b.as_callable();
    default:
      return false;
  }
}

}  // namespace pagoda::jinja
