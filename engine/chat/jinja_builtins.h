// Jinja built-ins over Value with Python/jinja2 semantics: operators, attribute and item access,
// slicing, iteration, filters, tests, and str/dict/list methods. Pure functions; any thread.
// Errors are thrown as JinjaError and turned into a Status by JinjaTemplate.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "engine/chat/jinja_ast.h"
#include "engine/chat/jinja_value.h"

namespace pagoda::jinja {

struct BuiltinLimits {
  std::size_t max_string_bytes = 32u << 20;  // largest string or list a single operation may build
};

// Binds call arguments to named parameters (positional first, then keywords), as Python does.
class BoundArgs {
 public:
  BoundArgs(const CallArgs& args, std::string_view function, std::initializer_list<std::string_view> params);
  // Null when the parameter was not given.
  const Value* get(std::size_t index) const { return values_[index]; }
  bool has(std::size_t index) const { return values_[index] != nullptr; }

 private:
  std::vector<const Value*> values_;
};

[[noreturn]] void throw_undefined(const Value& undefined);

Value binary_op(BinaryOp op, const Value& a, const Value& b, const BuiltinLimits& limits);
bool compare_op(CompareOp op, const Value& a, const Value& b);
Value negate(const Value& v, bool minus);

// obj.name, jinja2 sandbox style: Python attributes (methods) first, then dict keys.
Value get_attr(const Value& obj, const std::string& name, const BuiltinLimits& limits);
// obj[key]: items first, then attributes for string keys.
Value get_item(const Value& obj, const Value& key, const BuiltinLimits& limits);
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// The items a for loop visits: list items, dict keys, string characters; undefined is empty.
ValueList iterate(const Value& v);
std::int64_t length_of(const Value& v);

bool is_known_filter(std::string_view name);
bool is_known_test(std::string_view name);
Value call_filter(const std::string& name, const Value& operand, const CallArgs& args,
                  const BuiltinLimits& limits);
bool call_test(const std::string& name, const Value& operand, const CallArgs& args);

}  // namespace pagoda::jinja
