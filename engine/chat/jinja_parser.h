// Parser for the Jinja subset: tokens -> syntax tree, following jinja2's grammar and operator
// precedence. Pure function; any thread. Throws JinjaError (kind kSyntax) with line and column.
#pragma once

#include <vector>

#include "engine/chat/jinja_ast.h"
#include "engine/chat/jinja_lexer.h"

namespace pagoda::jinja {

struct ParserLimits {
  int max_nesting = 64;  // nested expressions / blocks
};

Body parse(const std::vector<Token>& tokens, const ParserLimits& limits);

}  // namespace pagoda::jinja
