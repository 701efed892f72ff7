// Value: the dynamically typed value of the Jinja interpreter (Python semantics: undefined, none,
// bool, int, float, str, list, dict, namespace, callable). Lists and dicts are immutable and shared;
// only a namespace is mutable. Values are not thread-safe; each render builds its own.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace pagoda::jinja {

// Thrown inside the interpreter only; JinjaTemplate turns it into a Status at its boundary.
class JinjaError : public std::runtime_error {
 public:
  enum class Kind { kSyntax, kRuntime, kRaised, kLimit };
  JinjaError(Kind kind, std::string message, int line = 0, int column = 0)
      : std::runtime_error(message), kind_(kind), line_(line), column_(column) {}
  Kind kind() const { return kind_; }
  int line() const { return line_; }
  int column() const { return column_; }
  void set_line_if_unset(int line) {
    if (line_ == 0) line_ = line;
  }

 private:
  Kind kind_;
  int line_;
  int column_;
};

[[noreturn]] void throw_runtime(std::string message);

// Concatenates pieces (also sidesteps a GCC 12 -Wrestrict false positive on chained operator+).
std::string cat(std::initializer_list<std::string_view> pieces);

class Value;
class ValueDict;
struct ListData;
struct CallArgs;
struct Callable;
using ValueList = std::vector<Value>;

struct Undefined {
  std::string hint;  // e.g. "'foo' is undefined", used when the value is misused
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable };

  Value() : data_(Undefined{}) {}
  static Value undefined(std::string hint = {}) { return Value(Undefined{std::move(hint)}); }
  static Value none() { return Value(nullptr); }
  Value(bool b) : data_(b) {}                      // NOLINT(google-explicit-constructor)
  Value(std::int64_t i) : data_(i) {}              // NOLINT(google-explicit-constructor)
  Value(int i) : data_(std::int64_t{i}) {}         // NOLINT(google-explicit-constructor)
  Value(double d) : data_(d) {}                    // NOLINT(google-explicit-constructor)
  Value(std::string s) : data_(std::move(s)) {}    // NOLINT(google-explicit-constructor)
  Value(const char* s) : data_(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  Value(ValueList list);                           // NOLINT(google-explicit-constructor)
  Value(ValueDict dict);                           // NOLINT(google-explicit-constructor)
  static Value make_namespace(ValueDict attrs);
  static Value make_callable(std::string name, std::function<Value(CallArgs&)> fn);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  // Python numbers include bool.
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_namespace() const { return kind() == Kind::kNamespace; }
  bool is_callable() const { return kind() == Kind::kCallable; }

  bool as_bool() const { return std::get<bool>(data_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const ValueList& as_list() const;
  const ValueDict& as_dict() const { return *std::get<std::shared_ptr<const ValueDict>>(data_); }
  ValueDict& as_namespace() const { return *std::get<std::shared_ptr<ValueDict>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  const std::string& undefined_hint() const { return std::get<Undefined>(data_).hint; }

  // Integer view of an int or bool (Python bool is an int).
  std::int64_t to_int() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }
  // Float view of any number.
  double to_float() const { return is_float() ? as_float() : static_cast<double>(to_int()); }

  // Nesting depth: 0 for scalars, 1 + the deepest element for lists and dicts.
  int depth() const;

  // Python truthiness.
  bool truthy() const;
  // Python type name for messages ("str", "dict", "NoneType", ...).
  std::string type_name() const;

  // Converts parsed JSON (keys kept in order).
  static Value from_json(const nlohmann::ordered_json& json);

 private:
  explicit Value(Undefined u) : data_(std::move(u)) {}
  explicit Value(std::nullptr_t) : data_(nullptr) {}
  explicit Value(std::shared_ptr<ValueDict> ns) : data_(std::move(ns)) {}
  explicit Value(std::shared_ptr<const Callable> c) : data_(std::move(c)) {}

  std::variant<Undefined, std::nullptr_t, bool, std::int64_t, double, std::string,
               std::shared_ptr<const ListData>, std::shared_ptr<const ValueDict>, std::shared_ptr<ValueDict>,
               std::shared_ptr<const Callable>>
      data_;
};

// An insertion-ordered string-keyed map (Python dict order).
class ValueDict {
 public:
  ValueDict() = default;
  const Value* find(std::string_view key) const;
  // Inserts or replaces.
  void set(std::string key, Value value);
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  // Nesting depth of the values held (a dict of scalars has depth 1).
  int depth() const { return depth_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  int depth_ = 1;
  std::unordered_map<std::string, std::size_t> index_;
};

struct ListData {
  ValueList items;
  int depth = 1;
};

// Lists and dicts nested deeper than this are refused (bounds recursion when printing and freeing).
inline constexpr int kMaxValueDepth = 256;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  std::string name;
  std::function<Value(CallArgs&)> fn;
};

inline const ValueList& Value::as_list() const {
  return std::get<std::shared_ptr<const ListData>>(data_)->items;
}
inline Value Value::make_namespace(ValueDict attrs) {
  return Value(std::make_shared<ValueDict>(std::move(attrs)));
}
inline Value Value::make_callable(std::string name, std::function<Value(CallArgs&)> fn) {
  return Value(std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)}));
}

// Python str(value) as Jinja prints it (undefined prints as "").
std::string to_str(const Value& value);
// Python repr(value).
std::string to_repr(const Value& value);
// Python repr of a float ("1.0", "1e+16", "0.1").
std::string float_repr(double d);
// json.dumps(value, ensure_ascii=False, indent=indent, separators=(",", ": ") if indent else
// (", ", ": ")). `indent` empty means no indentation. Throws JinjaError for unserializable values.
std::string to_json(const Value& value, const std::string* indent);
// Python ==.
bool values_equal(const Value& a, const Value& b);

}  // namespace pagoda::jinja
