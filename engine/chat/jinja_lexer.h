// Lexer for the Jinja subset: splits template source into text and tag tokens, applying Jinja's
// whitespace control ({%- -%}, trim_blocks, lstrip_blocks) exactly as jinja2's lexer does.
// Pure function; any thread. Throws JinjaError (kind kSyntax) on malformed input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pagoda::jinja {

enum class TokenKind {
  kText,        // literal template text (already whitespace-controlled)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // value holds the unescaped string
  kInt,
  kFloat,
  kOperator,  // value holds the operator text, e.g. "//" or "["
  kEof,
};

struct Token {
  TokenKind kind;
  std::string value;
  int line;
  int column;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

std::vector<Token> lex(std::string_view source, const LexerOptions& options);

// Human-readable description of a token for error messages.
std::string describe_token(const Token& token);

}  // namespace pagoda::jinja
