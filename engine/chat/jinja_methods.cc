// Attribute access and the str/dict/list methods templates may call (see jinja_builtins.h).
// Mirrors jinja2's ImmutableSandboxedEnvironment: methods that would mutate a list or dict are
// "unsafe" and read as undefined.
#include <algorithm>
#include <array>
#include <string_view>

#include "engine/chat/jinja_builtins.h"
#include "engine/chat/jinja_unicode.h"

namespace pagoda::jinja {
namespace {

template <std::size_t N>
bool one_of(std::string_view name, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

constexpr std::array<std::string_view, 23> kStrMethods = {
    "startswith", "endswith", "split",      "rsplit",  "strip",   "lstrip",  "rstrip",    "upper",
    "lower",      "title",    "capitalize", "replace", "find",    "rfind",   "count",     "join",
    "isdigit",    "isalpha",  "isalnum",    "isspace", "isupper", "islower", "splitlines"};
constexpr std::array<std::string_view, 5> kDictMethods = {"items", "keys", "values", "get", "copy"};
constexpr std::array<std::string_view, 5> kDictUnsafe = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr std::array<std::string_view, 3> kListMethods = {"count", "index", "copy"};
constexpr std::array<std::string_view, 8> kListUnsafe = {"append", "clear",  "extend",  "insert",
                                                         "pop",    "remove", "reverse", "sort"};

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() +
                          "' object is unsafe.");
}

const std::string& string_arg(const Value* v, const char* method) {
  if (v == nullptr || !v->is_string()) {
    throw_runtime(std::string("TypeError: ") + method + "() argument must be str, not " +
                  (v ? v->type_name() : std::string("nothing")));
  }
  return v->as_string();
}

// Null when the argument is missing or None (Python's "sep=None").
const std::string* optional_string(const Value* v, const char* method) {
  if (v == nullptr || v->is_none()) return nullptr;
  return &string_arg(v, method);
}

std::int64_t optional_int(const Value* v, std::int64_t fallback) {
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool())
    throw_runtime("TypeError: an integer is required, not " + v->type_name());
  return v->to_int();
}

Value to_list(const std::vector<std::string>& parts) {
  ValueList out;
  out.reserve(parts.size());
  for (const auto& p : parts)
    out.emplace_back(p);
  return Value(std::move(out));
}

bool all_cps(const std::string& s, bool (*pred)(char32_t)) {
  if (s.empty()) return false;
  for (char32_t cp : utf8_decode(s)) {
    if (!pred(cp)) return false;
  }
  return true;
}

std::int64_t cp_index(const std::string& s, std::size_t byte_pos) {
  return static_cast<std::int64_t>(utf8_length(std::string_view(s).substr(0, byte_pos)));
}

Value affix_test(const std::string& s, const Value* affix, bool prefix) {
  auto test = [&](const Value& v) {
    const std::string& a = string_arg(&v, prefix ? "startswith" : "endswith");
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix != nullptr && affix->is_list()) {
    for (const auto& v : affix->as_list()) {
      if (test(v)) return Value(true);
    }
    return Value(false);
  }
  if (affix == nullptr) throw_runtime("TypeError: startswith/endswith takes at least 1 argument");
  return Value(test(*affix));
}

Value call_str_method(const std::string& s, const std::string& name, const CallArgs& call,
                      const BuiltinLimits& limits) {
  if (name == "startswith" || name == "endswith") {
    BoundArgs a(call, name, {"prefix", "start", "end"});
    if (a.has(1) || a.has(2)) {
      Value sliced = get_slice(Value(s), a.has(1) ? *a.get(1) : Value::none(),
                               a.has(2) ? *a.get(2) : Value::none(), Value::none());
      return affix_test(sliced.as_string(), a.get(0), name == "startswith");
    }
    return affix_test(s, a.get(0), name == "startswith");
  }
  if (name == "split" || name == "rsplit") {
    BoundArgs a(call, name, {"sep", "maxsplit"});
    const std::string* sep = optional_string(a.get(0), name.c_str());
    std::int64_t maxsplit = optional_int(a.get(1), -1);
    return to_list(name == "split" ? py_split(s, sep, maxsplit) : py_rsplit(s, sep, maxsplit));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    BoundArgs a(call, name, {"chars"});
    StripSide side = name == "strip"    ? StripSide::kBoth
                     : name == "lstrip" ? StripSide::kLeft
                                        : StripSide::kRight;
    return Value(py_strip(s, optional_string(a.get(0), name.c_str()), side));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    BoundArgs a(call, name, {});
    if (name == "upper") return Value(py_upper(s));
    if (name == "lower") return Value(py_lower(s));
    if (name == "title") return Value(py_title(s));
    return Value(py_capitalize(s));
  }
  if (name == "replace") {
    BoundArgs a(call, name, {"old", "new", "count"});
    return Value(py_replace(s, string_arg(a.get(0), "replace"), string_arg(a.get(1), "replace"),
                            optional_int(a.get(2), -1), limits.max_string_bytes));
  }
  if (name == "find" || name == "rfind") {
    BoundArgs a(call, name, {"sub"});
    const std::string& sub = string_arg(a.get(0), name.c_str());
    std::size_t pos = name == "find" ? s.find(sub) : s.rfind(sub);
    return Value(pos == std::string::npos ? std::int64_t{-1} : cp_index(s, pos));
  }
  if (name == "count") {
    BoundArgs a(call, name, {"sub"});
    const std::string& sub = string_arg(a.get(0), "count");
    if (sub.empty()) return Value(static_cast<std::int64_t>(utf8_length(s) + 1));
    std::int64_t n = 0;
    for (std::size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size()))
      ++n;
    return Value(n);
  }
  if (name == "join") {
    BoundArgs a(call, name, {"iterable"});
    if (!a.has(0)) throw_runtime("TypeError: join() takes exactly one argument");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(*a.get(0))) {
      if (!item.is_string())
        throw_runtime("TypeError: sequence item: expected str instance, " + item.type_name() + " found");
      if (!first) out += s;
      first = false;
      out += item.as_string();
      if (out.size() > limits.max_string_bytes)
        throw JinjaError(JinjaError::Kind::kLimit, "join result too large");
    }
    return Value(std::move(out));
  }
  if (name == "splitlines") {
    BoundArgs a(call, name, {"keepends"});
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n' || s[i] == '\r') {
        std::size_t end = i;
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        lines.push_back(s.substr(start, (a.has(0) && a.get(0)->truthy() ? i + 1 : end) - start));
        start = i + 1;
      }
    }
    if (start < s.size()) lines.push_back(s.substr(start));
    return to_list(lines);
  }
  BoundArgs a(call, name, {});
  if (name == "isdigit") return Value(all_cps(s, is_digit_cp));
  if (name == "isalpha") return Value(all_cps(s, is_alpha_cp));
  if (name == "isalnum")
    return Value(all_cps(s, [](char32_t c) { return is_alpha_cp(c) || is_digit_cp(c); }));
  if (name == "isspace") return Value(all_cps(s, is_py_space));
  // isupper / islower: at least one cased character and no cased character of the other case.
  bool any_cased = false;
  bool ok = true;
  for (char32_t cp : utf8_decode(s)) {
    if (!is_cased_cp(cp)) continue;
    any_cased = true;
    if (name == "isupper" ? to_upper_cp(cp) != cp : to_lower_cp(cp) != cp) ok = false;
  }
  return Value(any_cased && ok);
}

Value call_dict_method(const Value& obj, const std::string& name, const CallArgs& call) {
  const ValueDict& d = obj.as_dict();
  if (name == "get") {
    BoundArgs a(call, name, {"key", "default"});
    if (!a.has(0)) throw_runtime("TypeError: get expected at least 1 argument, got 0");
    if (a.get(0)->is_string()) {
      if (const Value* v = d.find(a.get(0)->as_string())) return *v;
    }
    return a.has(1) ? *a.get(1) : Value::none();
  }
  BoundArgs a(call, name, {});
  if (name == "copy") return obj;
  ValueList out;
  for (const auto& [k, v] : d.entries()) {
    if (name == "keys") {
      out.emplace_back(k);
    } else if (name == "values") {
      out.push_back(v);
    } else {
      out.emplace_back(ValueList{Value(k), v});
    }
  }
  return Value(std::move(out));
}

Value call_list_method(const Value& obj, const std::string& name, const CallArgs& call) {
  if (name == "copy") {
    BoundArgs a(call, name, {});
    return obj;
  }
  BoundArgs a(call, name, {"value"});
  if (!a.has(0)) throw_runtime("TypeError: " + name + "() takes exactly one argument");
  const ValueList& list = obj.as_list();
  std::int64_t count = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!values_equal(list[i], *a.get(0))) continue;
    if (name == "index") return Value(static_cast<std::int64_t>(i));
    ++count;
  }
  if (name == "index") throw_runtime("ValueError: " + to_repr(*a.get(0)) + " is not in list");
  return Value(count);
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name, const BuiltinLimits& limits) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      throw_undefined(obj);
    case Value::Kind::kString:
      if (one_of(name, kStrMethods)) {
        return Value::make_callable("str." + name, [obj, name, limits](CallArgs& args) {
          return call_str_method(obj.as_string(), name, args, limits);
        });
      }
      return Value::undefined("'str object' has no attribute '" + name + "'");
    case Value::Kind::kDict:
      if (one_of(name, kDictMethods)) {
        return Value::make_callable(
            "dict." + name, [obj, name](CallArgs& args) { return call_dict_method(obj, name, args); });
      }
      if (one_of(name, kDictUnsafe)) return unsafe(obj, name);
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    case Value::Kind::kList:
      if (one_of(name, kListMethods)) {
        return Value::make_callable(
            "list." + name, [obj, name](CallArgs& args) { return call_list_method(obj, name, args); });
      }
      if (one_of(name, kListUnsafe)) return unsafe(obj, name);
      return Value::undefined("'list object' has no attribute '" + name + "'");
    case Value::Kind::kNamespace:
      if (const Value* v = obj.as_namespace().find(name)) return *v;
      return Value::undefined("'Namespace object' has no attribute '" + name + "'");
    case Value::Kind::kNone:
      return Value::undefined("'None' has no attribute '" + name + "'");
    default:
      return Value::undefined(cat({"'", obj.type_name(), " object' has no attribute '", name, "'"}));
  }
}

}  // namespace pagoda::jinja
