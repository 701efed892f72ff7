// Interpreter: executes a parsed Jinja syntax tree against a context and produces the output text.
// One Interpreter per render, used by one thread; the tree it reads is shared and immutable.
// Throws JinjaError; JinjaTemplate catches it at the library boundary.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/chat/jinja_ast.h"
#include "engine/chat/jinja_builtins.h"

namespace pagoda::jinja {

struct RenderLimits {
  std::size_t max_output_bytes = 32u << 20;
  std::int64_t max_loop_iterations = 1'000'000;  // summed over all loops of one render
  int max_call_depth = 32;                       // nested macro calls
};

class Interpreter {
 public:
  explicit Interpreter(const RenderLimits& limits);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  std::string render(const Body& body, const ValueDict& context);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Scope = std::unordered_map<std::string, Value>;

  Flow exec_body(const Body& body);
  Flow exec(const Node& node);
  void exec_for(const Node& node);
  void exec_set(const Node& node);
  Value define_macro(const Node& node);
  Value call_macro(const Node& node, CallArgs& args);

  Value eval(const Expr& e);
  Value eval_inner(const Expr& e);
  CallArgs eval_args(const Expr& e, std::size_t first);
  Value eval_call(const Expr& e);

  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value value);
  void write(const std::string& text);
  void count_iteration();
  void install_globals();

  RenderLimits limits_;
  BuiltinLimits builtin_limits_;
  std::vector<Scope> scopes_;          // [0] globals, [1] template context, then blocks
  std::size_t frame_base_ = 1;         // innermost scopes visible to the running macro or template start here
  std::vector<std::string*> outputs_;  // output stack: the template, then set-blocks and macro bodies
  std::int64_t iterations_ = 0;
  int call_depth_ = 0;
  std::vector<Value> namespaces_;  // cleared after rendering to break reference cycles
};

}  // namespace pagoda::jinja
