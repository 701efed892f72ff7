// JinjaTemplate: a compiled Jinja template (the subset chat templates use), configured like
// transformers' chat environment: trim_blocks, lstrip_blocks, loop controls, immutable sandbox.
// Immutable after parse(); render() is const and safe to call from many threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/chat/jinja_ast.h"
#include "engine/chat/jinja_interpreter.h"
#include "engine/chat/jinja_value.h"

namespace pagoda::jinja {

struct JinjaLimits {
  std::size_t max_source_bytes = 1u << 20;
  int max_nesting = 128;  // nested blocks and sub-expressions
  RenderLimits render;
};

class JinjaTemplate {
 public:
  // Errors: INVALID_ARGUMENT "template syntax error at line L, column C: ..." (also for unknown
  // filters or tests, as jinja2 checks them when compiling).
  static StatusOr<JinjaTemplate> parse(std::string_view source, const JinjaLimits& limits = {});

  // `context` holds the template's variables. Errors: INVALID_ARGUMENT for template errors
  // ("template error at line L: ...") and raise_exception ("template raised an exception: ..."),
  // RESOURCE_EXHAUSTED when a limit is hit.
  StatusOr<std::string> render(const ValueDict& context) const;

 private:
  JinjaTemplate(std::shared_ptr<const Body> body, const JinjaLimits& limits)
      : body_(std::move(body)), limits_(limits) {}

  std::shared_ptr<const Body> body_;
  JinjaLimits limits_;
};

}  // namespace pagoda::jinja
