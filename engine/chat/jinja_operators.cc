// Operators, item/attribute access, slicing and iteration (see jinja_builtins.h).
#include <cmath>
#include <limits>

#include "engine/chat/jinja_builtins.h"
#include "engine/chat/jinja_unicode.h"

namespace pagoda::jinja {

void throw_undefined(const Value& undefined) {
  const std::string& hint = undefined.undefined_hint();
  throw JinjaError(JinjaError::Kind::kRuntime,
                   "UndefinedError: " + (hint.empty() ? "value is undefined" : hint));
}

namespace {

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  throw_runtime(std::string("TypeError: unsupported operand type(s) for ") + op + ": '" + a.type_name() +
                "' and '" + b.type_name() + "'");
}

void check_size(std::size_t n, const BuiltinLimits& limits) {
  if (n > limits.max_string_bytes) {
    throw JinjaError(JinjaError::Kind::kLimit,
                     "value exceeds the size limit of " + std::to_string(limits.max_string_bytes) + " bytes");
  }
}

// Applies a __builtin_*_overflow operation, throwing on overflow.
template <typename Op>
std::int64_t checked(Op op, std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (op(a, b, &r)) throw_runtime("OverflowError: integer overflow");
  return r;
}
constexpr auto kAdd = [](std::int64_t a, std::int64_t b, std::int64_t* r) {
  return __builtin_add_overflow(a, b, r);
};
constexpr auto kSub = [](std::int64_t a, std::int64_t b, std::int64_t* r) {
  return __builtin_sub_overflow(a, b, r);
};
constexpr auto kMul = [](std::int64_t a, std::int64_t b, std::int64_t* r) {
  return __builtin_mul_overflow(a, b, r);
};

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  if (b == 0) throw_runtime("ZeroDivisionError: integer division or modulo by zero");
  if (a == std::numeric_limits<std::int64_t>::min() && b == -1)
    throw_runtime("OverflowError: integer overflow");
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t py_mod(std::int64_t a, std::int64_t b) {
  if (b == 0) throw_runtime("ZeroDivisionError: integer division or modulo by zero");
  if (b == -1) return 0;
  std::int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

Value repeat(const Value& seq, std::int64_t times, const BuiltinLimits& limits) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty())
      check_size(static_cast<std::size_t>(times) > limits.max_string_bytes
                     ? limits.max_string_bytes + 1
                     : s.size() * static_cast<std::size_t>(times),
                 limits);
    std::string out;
    for (std::int64_t i = 0; i < times; ++i)
      out += s;
    return Value(std::move(out));
  }
  const ValueList& list = seq.as_list();
  if (!list.empty())
    check_size(static_cast<std::size_t>(times) > limits.max_string_bytes
                   ? limits.max_string_bytes + 1
                   : list.size() * static_cast<std::size_t>(times),
               limits);
  ValueList out;
  for (std::int64_t i = 0; i < times; ++i)
    out.insert(out.end(), list.begin(), list.end());
  return Value(std::move(out));
}

int compare_lists(const ValueList& a, const ValueList& b);

// -1, 0, 1 for orderable values; throws TypeError otherwise.
int order(const Value& a, const Value& b, const char* op) {
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.to_float();
      double y = b.to_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    std::int64_t x = a.to_int();
    std::int64_t y = b.to_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list()) return compare_lists(a.as_list(), b.as_list());
  throw_runtime(std::string("TypeError: '") + op + "' not supported between instances of '" + a.type_name() +
                "' and '" + b.type_name() + "'");
}

int compare_lists(const ValueList& a, const ValueList& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (values_equal(a[i], b[i])) continue;
    return order(a[i], b[i], "<");
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string()) {
        throw_runtime("TypeError: 'in <string>' requires string as left operand, not " + item.type_name());
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
      for (const auto& v : container.as_list()) {
        if (values_equal(v, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case Value::Kind::kUndefined:
      return false;
    default:
      throw_runtime("TypeError: argument of type '" + container.type_name() + "' is not iterable");
  }
}

// Python slice index normalisation (PySlice_AdjustIndices).
struct SliceRange {
  std::int64_t start, stop, step, count;
};

SliceRange adjust_slice(std::int64_t length, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto as_index = [](const Value& v, const char* what) -> std::int64_t {
    if (!v.is_int() && !v.is_bool()) {
      throw_runtime(std::string("TypeError: slice ") + what + " must be an integer or None, not " +
                    v.type_name());
    }
    return v.to_int();
  };
  auto given = [](const Value& v) { return !v.is_none() && !v.is_undefined(); };
  std::int64_t step = given(step_v) ? as_index(step_v, "step") : 1;
  if (step == 0) throw_runtime("ValueError: slice step cannot be zero");
  std::int64_t start;
  std::int64_t stop;
  if (given(start_v)) {
    start = as_index(start_v, "start");
    if (start < 0) {
      start += length;
      if (start < 0) start = step < 0 ? -1 : 0;
    } else if (start >= length) {
      start = step < 0 ? length - 1 : length;
    }
  } else {
    start = step < 0 ? length - 1 : 0;
  }
  if (given(stop_v)) {
    stop = as_index(stop_v, "stop");
    if (stop < 0) {
      stop += length;
      if (stop < 0) stop = step < 0 ? -1 : 0;
    } else if (stop >= length) {
      stop = step < 0 ? length - 1 : length;
    }
  } else {
    stop = step < 0 ? -1 : length;
  }
  std::int64_t count = 0;
  if (step < 0) {
    if (stop < start) count = (start - stop - 1) / (-step) + 1;
  } else if (start < stop) {
    count = (stop - start - 1) / step + 1;
  }
  return {start, stop, step, count};
}

}  // namespace

Value binary_op(BinaryOp op, const Value& a, const Value& b, const BuiltinLimits& limits) {
  if (op == BinaryOp::kConcat) {
    std::string s = to_str(a);
    std::string t = to_str(b);
    check_size(s.size() + t.size(), limits);
    return Value(s + t);
  }
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  const bool numbers = a.is_number() && b.is_number();
  const bool floats = numbers && (a.is_float() || b.is_float());
  switch (op) {
    case BinaryOp::kAdd:
      if (floats) return Value(a.to_float() + b.to_float());
      if (numbers) return Value(checked(kAdd, a.to_int(), b.to_int()));
      if (a.is_string() && b.is_string()) {
        check_size(a.as_string().size() + b.as_string().size(), limits);
        return Value(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list()) {
        check_size(a.as_list().size() + b.as_list().size(), limits);
        ValueList out = a.as_list();
        out.insert(out.end(), b.as_list().begin(), b.as_list().end());
        return Value(std::move(out));
      }
      if (a.is_string()) {
        throw_runtime("TypeError: can only concatenate str (not \"" + b.type_name() + "\") to str");
      }
      unsupported("+", a, b);
    case BinaryOp::kSub:
      if (floats) return Value(a.to_float() - b.to_float());
      if (numbers) return Value(checked(kSub, a.to_int(), b.to_int()));
      unsupported("-", a, b);
    case BinaryOp::kMul:
      if (floats) return Value(a.to_float() * b.to_float());
      if (numbers) return Value(checked(kMul, a.to_int(), b.to_int()));
      if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.to_int(), limits);
      if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.to_int(), limits);
      unsupported("*", a, b);
    case BinaryOp::kDiv:
      if (!numbers) unsupported("/", a, b);
      if (b.to_float() == 0.0) throw_runtime("ZeroDivisionError: division by zero");
      return Value(a.to_float() / b.to_float());
    case BinaryOp::kFloorDiv:
      if (!numbers) unsupported("//", a, b);
      if (floats) {
        if (b.to_float() == 0.0) throw_runtime("ZeroDivisionError: float floor division by zero");
        return Value(std::floor(a.to_float() / b.to_float()));
      }
      return Value(floor_div(a.to_int(), b.to_int()));
    case BinaryOp::kMod:
      if (!numbers) unsupported("%", a, b);
      if (floats) {
        double y = b.to_float();
        if (y == 0.0) throw_runtime("ZeroDivisionError: float modulo");
        double m = std::fmod(a.to_float(), y);
        if (m != 0.0 && ((m < 0) != (y < 0))) m += y;
        return Value(m);
      }
      return Value(py_mod(a.to_int(), b.to_int()));
    case BinaryOp::kPow: {
      if (!numbers) unsupported("** or pow()", a, b);
      if (!floats && b.to_int() >= 0) {
        const std::int64_t base = a.to_int();
        std::int64_t e = b.to_int();
        if (base == 0) return Value(std::int64_t{e == 0 ? 1 : 0});
        if (base == 1) return Value(std::int64_t{1});
        if (base == -1) return Value(std::int64_t{(e & 1) ? -1 : 1});
        std::int64_t result = 1;
        for (; e > 0; --e)
          result = checked(kMul, result, base);
        return Value(result);
      }
      if (a.to_float() == 0.0 && b.to_float() < 0) {
        throw_runtime("ZeroDivisionError: 0.0 cannot be raised to a negative power");
      }
      return Value(std::pow(a.to_float(), b.to_float()));
    }
    case BinaryOp::kConcat:
      break;
  }
  return Value();
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::kEq:
      return values_equal(a, b);
    case CompareOp::kNe:
      return !values_equal(a, b);
    case CompareOp::kLt:
      return order(a, b, "<") < 0;
    case CompareOp::kLe:
      return order(a, b, "<=") <= 0;
    case CompareOp::kGt:
      return order(a, b, ">") > 0;
    case CompareOp::kGe:
      return order(a, b, ">=") >= 0;
    case CompareOp::kIn:
      return contains(b, a);
    case CompareOp::kNotIn:
      return !contains(b, a);
  }
  return false;
}

Value negate(const Value& v, bool minus) {
  if (v.is_undefined()) throw_undefined(v);
  if (v.is_float()) return Value(minus ? -v.as_float() : v.as_float());
  if (v.is_int() || v.is_bool()) {
    std::int64_t i = v.to_int();
    if (!minus) return Value(i);
    if (i == std::numeric_limits<std::int64_t>::min()) throw_runtime("OverflowError: integer overflow");
    return Value(-i);
  }
  throw_runtime(std::string("TypeError: bad operand type for unary ") + (minus ? "-" : "+") + ": '" +
                v.type_name() + "'");
}

Value get_item(const Value& obj, const Value& key, const BuiltinLimits& limits) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      throw_undefined(obj);
    case Value::Kind::kDict:
      if (key.is_string()) {
        if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
        return get_attr(obj, key.as_string(), limits);
      }
      return Value::undefined("'dict object' has no attribute " + to_repr(key));
    case Value::Kind::kList:
    case Value::Kind::kString:
      if (key.is_int() || key.is_bool()) {
        std::int64_t i = key.to_int();
        if (obj.is_list()) {
          const ValueList& list = obj.as_list();
          const auto n = static_cast<std::int64_t>(list.size());
          if (i < 0) i += n;
          if (i < 0 || i >= n) return Value::undefined("'list object' has no element " + to_repr(key));
          return list[static_cast<std::size_t>(i)];
        }
        std::vector<char32_t> cps = utf8_decode(obj.as_string());
        const auto n = static_cast<std::int64_t>(cps.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined("'str object' has no element " + to_repr(key));
        std::string out;
        utf8_append(out, cps[static_cast<std::size_t>(i)]);
        return Value(std::move(out));
      }
      if (key.is_string()) return get_attr(obj, key.as_string(), limits);
      return Value::undefined(cat({"'", obj.type_name(), " object' has no element ", to_repr(key)}));
    default:
      if (key.is_string()) return get_attr(obj, key.as_string(), limits);
      return Value::undefined(cat({"'", obj.type_name(), " object' has no element ", to_repr(key)}));
  }
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) throw_undefined(obj);
  if (obj.is_list()) {
    const ValueList& list = obj.as_list();
    SliceRange r = adjust_slice(static_cast<std::int64_t>(list.size()), start, stop, step);
    ValueList out;
    out.reserve(static_cast<std::size_t>(r.count));
    for (std::int64_t i = 0, at = r.start; i < r.count; ++i, at += r.step)
      out.push_back(list[static_cast<std::size_t>(at)]);
    return Value(std::move(out));
  }
  if (obj.is_string()) {
    std::vector<char32_t> cps = utf8_decode(obj.as_string());
    SliceRange r = adjust_slice(static_cast<std::int64_t>(cps.size()), start, stop, step);
    std::string out;
    for (std::int64_t i = 0, at = r.start; i < r.count; ++i, at += r.step)
      utf8_append(out, cps[static_cast<std::size_t>(at)]);
    return Value(std::move(out));
  }
  throw_runtime("TypeError: '" + obj.type_name() + "' object is not subscriptable");
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return v.as_list();
    case Value::Kind::kDict: {
      ValueList keys;
      for (const auto& [k, _] : v.as_dict().entries())
        keys.emplace_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      ValueList chars;
      for (char32_t cp : utf8_decode(v.as_string())) {
        std::string s;
        utf8_append(s, cp);
        chars.emplace_back(std::move(s));
      }
      return chars;
    }
    default:
      throw_runtime("TypeError: '" + v.type_name() + "' object is not iterable");
  }
}

std::int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      return static_cast<std::int64_t>(utf8_length(v.as_string()));
    case Value::Kind::kList:
      return static_cast<std::int64_t>(v.as_list().size());
    case Value::Kind::kDict:
      return static_cast<std::int64_t>(v.as_dict().size());
    default:
      throw_runtime("TypeError: object of type '" + v.type_name() + "' has no len()");
  }
}

}  // namespace pagoda::jinja
