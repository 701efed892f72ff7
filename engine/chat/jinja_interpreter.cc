#include "engine/chat/jinja_interpreter.h"

#include <ctime>

namespace pagoda::jinja {
namespace {

[[noreturn]] void limit_error(const std::string& message) {
  throw JinjaError(JinjaError::Kind::kLimit, message);
}

Value range_global(CallArgs& args, std::int64_t max_items) {
  BoundArgs a(args, "range", {"start", "stop", "step"});
  if (!a.has(0)) throw_runtime("TypeError: range expected at least 1 argument, got 0");
  for (std::size_t i = 0; i < 3; ++i) {
    if (a.has(i) && !a.get(i)->is_int() && !a.get(i)->is_bool()) {
      throw_runtime("TypeError: '" + a.get(i)->type_name() + "' object cannot be interpreted as an integer");
    }
  }
  std::int64_t start = 0;
  std::int64_t stop = a.get(0)->to_int();
  std::int64_t step = 1;
  if (a.has(1)) {
    start = stop;
    stop = a.get(1)->to_int();
  }
  if (a.has(2)) step = a.get(2)->to_int();
  if (step == 0) throw_runtime("ValueError: range() arg 3 must not be zero");
  ValueList out;
  for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<std::int64_t>(out.size()) >= max_items) limit_error("range() too large");
    out.emplace_back(i);
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value(std::move(out));
}

}  // namespace

Interpreter::Interpreter(const RenderLimits& limits) : limits_(limits) {
  builtin_limits_.max_string_bytes = limits.max_output_bytes;
}

Interpreter::~Interpreter() {
  // Namespaces may hold themselves (ns.x = ns); empty them so the shared pointers are freed.
  for (Value& ns : namespaces_)
    ns.as_namespace() = ValueDict();
}

void Interpreter::install_globals() {
  Scope& g = scopes_[0];
  const std::int64_t max_items = limits_.max_loop_iterations;
  g["range"] =
      Value::make_callable("range", [max_items](CallArgs& args) { return range_global(args, max_items); });
  g["namespace"] = Value::make_callable("namespace", [this](CallArgs& args) {
    ValueDict attrs;
    if (args.positional.size() > 1)
      throw_runtime("TypeError: namespace() takes at most one positional argument");
    if (!args.positional.empty()) {
      if (!args.positional[0].is_dict()) throw_runtime("TypeError: namespace() argument must be a mapping");
      for (const auto& [k, v] : args.positional[0].as_dict().entries())
        attrs.set(k, v);
    }
    for (auto& [k, v] : args.keyword)
      attrs.set(k, v);
    Value ns = Value::make_namespace(std::move(attrs));
    namespaces_.push_back(ns);
    return ns;
  });
  g["dict"] = Value::make_callable("dict", [](CallArgs& args) {
    ValueDict d;
    if (!args.positional.empty()) {
      if (args.positional.size() > 1 || !args.positional[0].is_dict())
        throw_runtime("TypeError: dict() needs a mapping");
      d = args.positional[0].as_dict();
    }
    for (auto& [k, v] : args.keyword)
      d.set(k, v);
    return Value(std::move(d));
  });
  g["raise_exception"] = Value::make_callable("raise_exception", [](CallArgs& args) -> Value {
    std::string message =
        args.positional.empty() ? std::string("raise_exception called") : to_str(args.positional[0]);
    throw JinjaError(JinjaError::Kind::kRaised, message);
  });
  g["strftime_now"] = Value::make_callable("strftime_now", [](CallArgs& args) {
    BoundArgs a(args, "strftime_now", {"format"});
    std::string format = a.has(0) ? to_str(*a.get(0)) : std::string("%Y-%m-%d");
    if (format.size() > 256) throw_runtime("strftime_now: format too long");
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[1024];
    std::size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &tm);
    return Value(std::string(buf, n));
  });
}

std::string Interpreter::render(const Body& body, const ValueDict& context) {
  scopes_.clear();
  scopes_.emplace_back();
  scopes_.emplace_back();
  install_globals();
  for (const auto& [k, v] : context.entries())
    scopes_[1][k] = v;
  frame_base_ = 1;
  std::string out;
  outputs_ = {&out};
  Flow flow = exec_body(body);
  (void)flow;  // a stray break/continue outside a loop is refused by jinja2 at compile time
  return out;
}

void Interpreter::write(const std::string& text) {
  std::string* out = outputs_.back();
  if (out->size() + text.size() > limits_.max_output_bytes) {
    limit_error("output exceeds the limit of " + std::to_string(limits_.max_output_bytes) + " bytes");
  }
  out->append(text);
}

void Interpreter::count_iteration() {
  if (++iterations_ > limits_.max_loop_iterations) {
    limit_error("more than " + std::to_string(limits_.max_loop_iterations) + " loop iterations");
  }
}

Value Interpreter::lookup(const std::string& name) const {
  for (std::size_t i = scopes_.size(); i-- > frame_base_;) {
    auto it = scopes_[i].find(name);
    if (it != scopes_[i].end()) return it->second;
  }
  for (std::size_t i : {std::size_t{1}, std::size_t{0}}) {
    if (i >= frame_base_) continue;
    auto it = scopes_[i].find(name);
    if (it != scopes_[i].end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

void Interpreter::assign(const std::string& name, Value value) {
  scopes_.back()[name] = std::move(value);
}

Interpreter::Flow Interpreter::exec_body(const Body& body) {
  for (const NodePtr& node : body) {
    Flow flow = exec(*node);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Node& node) {
  try {
    switch (node.kind) {
      case NodeKind::kText:
        write(node.text);
        return Flow::kNormal;
      case NodeKind::kOutput:
        write(to_str(eval(*node.expr)));
        return Flow::kNormal;
      case NodeKind::kIf:
        for (const IfBranch& branch : node.branches) {
          if (eval(*branch.condition).truthy()) return exec_body(branch.body);
        }
        return exec_body(node.else_body);
      case NodeKind::kFor:
        exec_for(node);
        return Flow::kNormal;
      case NodeKind::kSet:
        exec_set(node);
        return Flow::kNormal;
      case NodeKind::kSetBlock: {
        std::string captured;
        outputs_.push_back(&captured);
        Flow flow = exec_body(node.body);
        outputs_.pop_back();
        assign(node.targets[0], Value(std::move(captured)));
        return flow;
      }
      case NodeKind::kMacro:
        assign(node.text, define_macro(node));
        return Flow::kNormal;
      case NodeKind::kBreak:
        return Flow::kBreak;
      case NodeKind::kContinue:
        return Flow::kContinue;
      case NodeKind::kScope:
        return exec_body(node.body);
    }
  } catch (JinjaError& e) {
    e.set_line_if_unset(node.line);
    throw;
  }
  return Flow::kNormal;
}

void Interpreter::exec_for(const Node& node) {
  ValueList items = iterate(eval(*node.expr));
  auto bind = [&](const Value& item) {
    if (node.targets.size() == 1) {
      assign(node.targets[0], item);
      return;
    }
    ValueList parts = iterate(item);
    if (parts.size() != node.targets.size()) {
      throw_runtime("ValueError: cannot unpack " + std::to_string(parts.size()) + " values into " +
                    std::to_string(node.targets.size()) + " names");
    }
    for (std::size_t i = 0; i < parts.size(); ++i)
      assign(node.targets[i], parts[i]);
  };
  if (node.filter) {
    ValueList kept;
    for (Value& item : items) {
      count_iteration();
      scopes_.emplace_back();
      bind(item);
      bool keep = eval(*node.filter).truthy();
      scopes_.pop_back();
      if (keep) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    scopes_.emplace_back();
    exec_body(node.else_body);
    scopes_.pop_back();
    return;
  }
  const auto length = static_cast<std::int64_t>(items.size());
  for (std::int64_t i = 0; i < length; ++i) {
    count_iteration();
    ValueDict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(length - i));
    loop.set("revindex0", Value(length - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == length - 1));
    loop.set("length", Value(length));
    loop.set("depth", Value(std::int64_t{1}));
    loop.set("depth0", Value(std::int64_t{0}));
    loop.set("previtem",
             i > 0 ? items[static_cast<std::size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < length ? items[static_cast<std::size_t>(i + 1)]
                                        : Value::undefined("there is no next item"));
    loop.set("cycle", Value::make_callable("loop.cycle", [i](CallArgs& args) {
               if (args.positional.empty()) throw_runtime("TypeError: no items for cycling given");
               return args.positional[static_cast<std::size_t>(i) % args.positional.size()];
             }));
    scopes_.emplace_back();
    assign("loop", Value(std::move(loop)));
    bind(items[static_cast<std::size_t>(i)]);
    Flow flow;
    try {
      flow = exec_body(node.body);
    } catch (...) {
      scopes_.pop_back();
      throw;
    }
    scopes_.pop_back();
    if (flow == Flow::kBreak) break;
  }
}

void Interpreter::exec_set(const Node& node) {
  Value value = eval(*node.expr);
  if (!node.attr.empty()) {
    Value target = lookup(node.targets[0]);
    if (!target.is_namespace()) throw_runtime("cannot assign attribute on non-namespace object");
    target.as_namespace().set(node.attr, std::move(value));
    return;
  }
  if (node.targets.size() == 1) {
    assign(node.targets[0], std::move(value));
    return;
  }
  ValueList parts = iterate(value);
  if (parts.size() != node.targets.size()) {
    throw_runtime("ValueError: cannot unpack " + std::to_string(parts.size()) + " values into " +
                  std::to_string(node.targets.size()) + " names");
  }
  for (std::size_t i = 0; i < parts.size(); ++i)
    assign(node.targets[i], parts[i]);
}

Value Interpreter::define_macro(const Node& node) {
  const Node* macro = &node;
  return Value::make_callable(node.text, [this, macro](CallArgs& args) { return call_macro(*macro, args); });
}

Value Interpreter::call_macro(const Node& node, CallArgs& args) {
  if (call_depth_ >= limits_.max_call_depth) {
    limit_error("macro calls nested deeper than " + std::to_string(limits_.max_call_depth));
  }
  if (args.positional.size() > node.targets.size()) {
    throw_runtime("TypeError: macro '" + node.text + "' takes not more than " +
                  std::to_string(node.targets.size()) + " argument(s)");
  }
  const std::size_t saved_base = frame_base_;
  const std::size_t saved_scopes = scopes_.size();
  std::string out;
  ++call_depth_;
  scopes_.emplace_back();
  frame_base_ = scopes_.size() - 1;
  outputs_.push_back(&out);
  try {
    std::vector<bool> given(node.targets.size(), false);
    for (std::size_t i = 0; i < args.positional.size(); ++i) {
      assign(node.targets[i], args.positional[i]);
      given[i] = true;
    }
    for (auto& [key, value] : args.keyword) {
      std::size_t i = 0;
      while (i < node.targets.size() && node.targets[i] != key)
        ++i;
      if (i == node.targets.size())
        throw_runtime("TypeError: macro '" + node.text + "' has no argument '" + key + "'");
      assign(key, value);
      given[i] = true;
    }
    for (std::size_t i = 0; i < node.targets.size(); ++i) {
      if (given[i]) continue;
      assign(node.targets[i], node.defaults[i]
                                  ? eval(*node.defaults[i])
                                  : Value::undefined("parameter '" + node.targets[i] + "' was not provided"));
    }
    exec_body(node.body);
  } catch (...) {
    outputs_.pop_back();
    scopes_.resize(saved_scopes);
    frame_base_ = saved_base;
    --call_depth_;
    throw;
  }
  outputs_.pop_back();
  scopes_.resize(saved_scopes);
  frame_base_ = saved_base;
  --call_depth_;
  return Value(std::move(out));
}

CallArgs Interpreter::eval_args(const Expr& e, std::size_t first) {
  CallArgs args;
  for (std::size_t i = first; i < e.children.size(); ++i)
    args.positional.push_back(eval(*e.children[i]));
  for (const auto& [key, expr] : e.kwargs)
    args.keyword.emplace_back(key, eval(*expr));
  return args;
}

Value Interpreter::eval(const Expr& e) {
  try {
    return eval_inner(e);
  } catch (JinjaError& err) {
    err.set_line_if_unset(e.line);
    throw;
  }
}

Value Interpreter::eval_call(const Expr& e) {
  Value callee = eval(*e.children[0]);
  CallArgs args = eval_args(e, 1);
  if (callee.is_undefined()) throw_undefined(callee);
  if (!callee.is_callable()) throw_runtime("TypeError: '" + callee.type_name() + "' object is not callable");
  return callee.as_callable().fn(args);
}

Value Interpreter::eval_inner(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.literal;
    case ExprKind::kName:
      return lookup(e.name);
    case ExprKind::kList: {
      ValueList list;
      list.reserve(e.children.size());
      for (const ExprPtr& c : e.children)
        list.push_back(eval(*c));
      return Value(std::move(list));
    }
    case ExprKind::kDict: {
      ValueDict dict;
      for (std::size_t i = 0; i + 1 < e.children.size(); i += 2) {
        Value key = eval(*e.children[i]);
        if (!key.is_string())
          throw_runtime("only string keys are supported in dict literals, got " + key.type_name());
        dict.set(key.as_string(), eval(*e.children[i + 1]));
      }
      return Value(std::move(dict));
    }
    case ExprKind::kAttr:
      return get_attr(eval(*e.children[0]), e.name, builtin_limits_);
    case ExprKind::kItem: {
      Value obj = eval(*e.children[0]);
      return get_item(obj, eval(*e.children[1]), builtin_limits_);
    }
    case ExprKind::kSlice: {
      Value obj = eval(*e.children[0]);
      auto part = [&](std::size_t i) { return e.children[i] ? eval(*e.children[i]) : Value::none(); };
      Value start = part(1);
      Value stop = part(2);
      Value step = part(3);
      return get_slice(obj, start, stop, step);
    }
    case ExprKind::kCall:
      return eval_call(e);
    case ExprKind::kFilter: {
      Value operand = eval(*e.children[0]);
      CallArgs args = eval_args(e, 1);
      return call_filter(e.name, operand, args, builtin_limits_);
    }
    case ExprKind::kTest: {
      Value operand =
          e.children[0]->kind == ExprKind::kName ? lookup(e.children[0]->name) : eval(*e.children[0]);
      CallArgs args = eval_args(e, 1);
      return Value(call_test(e.name, operand, args) != e.negated);
    }
    case ExprKind::kNot:
      return Value(!eval(*e.children[0]).truthy());
    case ExprKind::kNeg:
    case ExprKind::kPos:
      return negate(eval(*e.children[0]), e.kind == ExprKind::kNeg);
    case ExprKind::kBinary: {
      Value a = eval(*e.children[0]);
      Value b = eval(*e.children[1]);
      return binary_op(e.binary_op, a, b, builtin_limits_);
    }
    case ExprKind::kAnd: {
      Value a = eval(*e.children[0]);
      return a.truthy() ? eval(*e.children[1]) : a;
    }
    case ExprKind::kOr: {
      Value a = eval(*e.children[0]);
      return a.truthy() ? a : eval(*e.children[1]);
    }
    case ExprKind::kCompare: {
      Value left = eval(*e.children[0]);
      for (std::size_t i = 0; i < e.compare_ops.size(); ++i) {
        Value right = eval(*e.children[i + 1]);
        if (!compare_op(e.compare_ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::kCondition:
      if (eval(*e.children[0]).truthy()) return eval(*e.children[1]);
      return e.children[2] ? eval(*e.children[2])
                           : Value::undefined("the inline if-expression evaluated to false");
  }
  return Value();
}

}  // namespace pagoda::jinja
