#include "engine/chat/jinja_template.h"

#include <new>

#include "base/strings.h"
#include "engine/chat/jinja_builtins.h"
#include "engine/chat/jinja_lexer.h"
#include "engine/chat/jinja_parser.h"

namespace pagoda::jinja {
namespace {

[[noreturn]] void fail_at(int line, const std::string& message) {
  throw JinjaError(JinjaError::Kind::kSyntax, message, line, 0);
}

// jinja2 checks these when compiling, before anything renders.
void check_expr(const Expr& e) {
  if (e.kind == ExprKind::kFilter && !is_known_filter(e.name))
    fail_at(e.line, "no filter named '" + e.name + "'");
  if (e.kind == ExprKind::kTest && !is_known_test(e.name)) fail_at(e.line, "no test named '" + e.name + "'");
  for (const ExprPtr& c : e.children) {
    if (c) check_expr(*c);
  }
  for (const auto& [_, c] : e.kwargs)
    check_expr(*c);
}

void check_body(const Body& body, bool in_loop) {
  for (const NodePtr& n : body) {
    if ((n->kind == NodeKind::kBreak || n->kind == NodeKind::kContinue) && !in_loop) {
      fail_at(n->line,
              n->kind == NodeKind::kBreak ? "'break' outside of a loop" : "'continue' outside of a loop");
    }
    if (n->expr) check_expr(*n->expr);
    if (n->filter) check_expr(*n->filter);
    for (const ExprPtr& d : n->defaults) {
      if (d) check_expr(*d);
    }
    for (const IfBranch& b : n->branches) {
      check_expr(*b.condition);
      check_body(b.body, in_loop);
    }
    const bool body_in_loop = n->kind == NodeKind::kFor     ? true
                              : n->kind == NodeKind::kMacro ? false
                                                            : in_loop;
    check_body(n->body, body_in_loop);
    check_body(n->else_body, in_loop);
  }
}

Status to_status(const JinjaError& e) {
  std::string where;
  if (e.line() > 0) {
    where = " at line " + std::to_string(e.line());
    if (e.column() > 0) where += ", column " + std::to_string(e.column());
  }
  switch (e.kind()) {
    case JinjaError::Kind::kSyntax:
      return invalid_argument("template syntax error" + where + ": " + e.what());
    case JinjaError::Kind::kRaised:
      return invalid_argument(std::string("template raised an exception: ") + e.what());
    case JinjaError::Kind::kLimit:
      return resource_exhausted("template limit exceeded" + where + ": " + e.what());
    case JinjaError::Kind::kRuntime:
      break;
  }
  return invalid_argument("template error" + where + ": " + e.what());
}

}  // namespace

StatusOr<JinjaTemplate> JinjaTemplate::parse(std::string_view source, const JinjaLimits& limits) {
  if (source.size() > limits.max_source_bytes) {
    return resource_exhausted("template is " + std::to_string(source.size()) + " bytes, over the limit of " +
                              std::to_string(limits.max_source_bytes));
  }
  if (!is_valid_utf8(source)) return invalid_argument("template is not valid UTF-8");
  try {
    std::vector<Token> tokens = lex(source, LexerOptions{});
    auto body = std::make_shared<Body>(jinja::parse(tokens, ParserLimits{limits.max_nesting}));
    check_body(*body, false);
    return JinjaTemplate(std::move(body), limits);
  } catch (const JinjaError& e) {
    return to_status(e);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("out of memory while parsing the template");
  }
}

StatusOr<std::string> JinjaTemplate::render(const ValueDict& context) const {
  try {
    Interpreter interpreter(limits_.render);
    return interpreter.render(*body_, context);
  } catch (const JinjaError& e) {
    return to_status(e);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("out of memory while rendering the template");
  } catch (const std::exception& e) {
    return internal_error(std::string("template rendering failed: ") + e.what());
  }
}

}  // namespace pagoda::jinja
