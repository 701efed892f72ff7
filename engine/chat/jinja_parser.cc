#include "engine/chat/jinja_parser.h"

#include <initializer_list>
#include <string_view>

namespace pagoda::jinja {
namespace {

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const ParserLimits& limits) : tokens_(tokens), limits_(limits) {}

  Body parse_template() {
    Body body = parse_body({});
    if (cur().kind != TokenKind::kEof) fail("unexpected " + describe_token(cur()));
    return body;
  }

 private:
  // Counts nesting and refuses to go past the limit.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* p) : p_(p) {
      if (++p_->depth_ > p_->limits_.max_nesting) p_->fail("template nested too deeply");
    }
    ~DepthGuard() { --p_->depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser* p_;
  };

  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(std::size_t ahead = 1) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw JinjaError(JinjaError::Kind::kSyntax, message, cur().line, cur().column);
  }

  bool is_op(std::string_view op) const { return cur().kind == TokenKind::kOperator && cur().value == op; }
  bool is_name(std::string_view name) const { return cur().kind == TokenKind::kName && cur().value == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail("expected token '" + std::string(op) + "', got " + describe_token(cur()));
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::kBlockEnd) {
      fail("expected token 'end of statement block', got " + describe_token(cur()));
    }
    next();
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::kName) fail("expected name, got " + describe_token(cur()));
    return next().value;
  }

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // ---- statements ----

  // Parses until a block tag whose name is in `end_names` (left unconsumed, positioned at the name)
  // or the end of the template.
  Body parse_body(std::initializer_list<std::string_view> end_names) {
    DepthGuard guard(this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.kind == TokenKind::kEof) {
        if (end_names.size() != 0) {
          fail("unexpected end of template, expected '" + std::string(*end_names.begin()) + "'");
        }
        return body;
      }
      if (t.kind == TokenKind::kText) {
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::kText;
        n->line = t.line;
        n->text = t.value;
        body.push_back(std::move(n));
        next();
      } else if (t.kind == TokenKind::kVarBegin) {
        next();
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::kOutput;
        n->line = t.line;
        n->expr = parse_tuple(true);
        if (cur().kind != TokenKind::kVarEnd) {
          fail("expected token 'end of print statement', got " + describe_token(cur()));
        }
        next();
        body.push_back(std::move(n));
      } else if (t.kind == TokenKind::kBlockBegin) {
        const Token& name = peek();
        if (name.kind == TokenKind::kName) {
          for (std::string_view end : end_names) {
            if (name.value == end) {
              next();
              return body;
            }
          }
        }
        next();
        body.push_back(parse_statement(end_names));
      } else {
        fail("unexpected " + describe_token(t));
      }
    }
  }

  NodePtr parse_statement(std::initializer_list<std::string_view> open_ends) {
    if (cur().kind != TokenKind::kName) fail("tag name expected");
    const Token& tag = cur();
    auto n = std::make_unique<Node>();
    n->line = tag.line;
    const std::string name = tag.value;
    if (name == "if") {
      next();
      n->kind = NodeKind::kIf;
      while (true) {
        IfBranch branch;
        branch.condition = parse_tuple(false);
        expect_block_end();
        branch.body = parse_body({"elif", "else", "endif"});
        n->branches.push_back(std::move(branch));
        std::string end = next().value;
        if (end == "elif") continue;
        if (end == "else") {
          expect_block_end();
          n->else_body = parse_body({"endif"});
          next();
        }
        break;
      }
      expect_block_end();
    } else if (name == "for") {
      next();
      n->kind = NodeKind::kFor;
      n->targets = parse_targets();
      if (!skip_name("in")) fail("expected 'in', got " + describe_token(cur()));
      n->expr = parse_tuple(false, /*stop_at_if=*/true);
      if (skip_name("if")) n->filter = parse_expression(true);
      if (is_name("recursive")) fail("recursive loops are not supported");
      expect_block_end();
      n->body = parse_body({"endfor", "else"});
      if (next().value == "else") {
        expect_block_end();
        n->else_body = parse_body({"endfor"});
        next();
      }
      expect_block_end();
    } else if (name == "set") {
      next();
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().value == ".") {
        n->kind = NodeKind::kSet;
        n->targets.push_back(next().value);
        next();
        n->attr = expect_name();
        expect_op("=");
        n->expr = parse_tuple(true);
        expect_block_end();
      } else {
        n->targets = parse_targets();
        if (skip_op("=")) {
          n->kind = NodeKind::kSet;
          n->expr = parse_tuple(true);
          expect_block_end();
        } else {
          if (n->targets.size() != 1) fail("block set needs a single name");
          n->kind = NodeKind::kSetBlock;
          expect_block_end();
          n->body = parse_body({"endset"});
          next();
          expect_block_end();
        }
      }
    } else if (name == "macro") {
      next();
      n->kind = NodeKind::kMacro;
      n->text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        if (!n->targets.empty()) expect_op(",");
        if (is_op(")")) break;
        n->targets.push_back(expect_name());
        n->defaults.push_back(skip_op("=") ? parse_expression(true) : nullptr);
      }
      expect_op(")");
      expect_block_end();
      n->body = parse_body({"endmacro"});
      next();
      if (cur().kind == TokenKind::kName) next();  // {% endmacro name %}
      expect_block_end();
    } else if (name == "break" || name == "continue") {
      next();
      n->kind = name == "break" ? NodeKind::kBreak : NodeKind::kContinue;
      expect_block_end();
    } else if (name == "generation") {
      next();
      n->kind = NodeKind::kScope;
      expect_block_end();
      n->body = parse_body({"endgeneration"});
      next();
      expect_block_end();
    } else {
      std::string message = "encountered unknown tag '" + name + "'";
      if (open_ends.size() != 0) {
        message += "; jinja was looking for a matching '" + std::string(*open_ends.begin()) + "'";
      }
      fail(message);
    }
    return n;
  }

  // name or name, name or (name, name)
  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      if (paren && is_op(")")) break;
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  // ---- expressions ----

  // An expression, or a comma-separated tuple of them (a list value).
  ExprPtr parse_tuple(bool with_condition, bool stop_at_if = false) {
    int line = cur().line;
    ExprPtr first = parse_expression(with_condition && !stop_at_if);
    if (!is_op(",")) return first;
    auto list = make(ExprKind::kList, line);
    list->children.push_back(std::move(first));
    while (skip_op(",")) {
      if (is_tuple_end()) break;
      list->children.push_back(parse_expression(with_condition && !stop_at_if));
    }
    return list;
  }

  bool is_tuple_end() const {
    const Token& t = cur();
    if (t.kind == TokenKind::kVarEnd || t.kind == TokenKind::kBlockEnd || t.kind == TokenKind::kEof)
      return true;
    if (t.kind == TokenKind::kOperator && (t.value == ")" || t.value == "]" || t.value == "=")) return true;
    return t.kind == TokenKind::kName && (t.value == "if" || t.value == "in");
  }

  ExprPtr parse_expression(bool with_condition) {
    DepthGuard guard(this);
    if (!with_condition) return parse_or();
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      int line = next().line;
      auto cond = make(ExprKind::kCondition, line);
      cond->children.push_back(parse_or());
      cond->children.push_back(std::move(expr));
      cond->children.push_back(skip_name("else") ? parse_expression(true) : nullptr);
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      auto e = make(ExprKind::kOr, next().line);
      e->children.push_back(std::move(left));
      e->children.push_back(parse_and());
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      auto e = make(ExprKind::kAnd, next().line);
      e->children.push_back(std::move(left));
      e->children.push_back(parse_not());
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(this);
      auto e = make(ExprKind::kNot, next().line);
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      CompareOp op;
      if (is_op("==")) {
        op = CompareOp::kEq;
      } else if (is_op("!=")) {
        op = CompareOp::kNe;
      } else if (is_op("<")) {
        op = CompareOp::kLt;
      } else if (is_op("<=")) {
        op = CompareOp::kLe;
      } else if (is_op(">")) {
        op = CompareOp::kGt;
      } else if (is_op(">=")) {
        op = CompareOp::kGe;
      } else if (is_name("in")) {
        op = CompareOp::kIn;
      } else if (is_name("not") && peek().kind == TokenKind::kName && peek().value == "in") {
        next();
        op = CompareOp::kNotIn;
      } else {
        break;
      }
      next();
      if (!cmp) {
        cmp = make(ExprKind::kCompare, line);
        cmp->children.push_back(std::move(first));
      }
      cmp->compare_ops.push_back(op);
      cmp->children.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr binary(BinaryOp op, ExprPtr left, ExprPtr right, int line) {
    auto e = make(ExprKind::kBinary, line);
    e->binary_op = op;
    e->children.push_back(std::move(left));
    e->children.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      BinaryOp op = t.value == "+" ? BinaryOp::kAdd : BinaryOp::kSub;
      left = binary(op, std::move(left), parse_concat(), t.line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      int line = next().line;
      left = binary(BinaryOp::kConcat, std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      BinaryOp op = t.value == "*"    ? BinaryOp::kMul
                    : t.value == "/"  ? BinaryOp::kDiv
                    : t.value == "//" ? BinaryOp::kFloorDiv
                                      : BinaryOp::kMod;
      left = binary(op, std::move(left), parse_pow(), t.line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      int line = next().line;
      left = binary(BinaryOp::kPow, std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      node = make(t.value == "-" ? ExprKind::kNeg : ExprKind::kPos, t.line);
      node->children.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.kind) {
      case TokenKind::kName: {
        next();
        auto e = make(ExprKind::kLiteral, t.line);
        if (t.value == "true" || t.value == "True") {
          e->literal = Value(true);
        } else if (t.value == "false" || t.value == "False") {
          e->literal = Value(false);
        } else if (t.value == "none" || t.value == "None") {
          e->literal = Value::none();
        } else {
          e->kind = ExprKind::kName;
          e->name = t.value;
        }
        return e;
      }
      case TokenKind::kString: {
        std::string s;
        int line = t.line;
        while (cur().kind == TokenKind::kString)
          s += next().value;
        auto e = make(ExprKind::kLiteral, line);
        e->literal = Value(std::move(s));
        return e;
      }
      case TokenKind::kInt: {
        next();
        auto e = make(ExprKind::kLiteral, t.line);
        e->literal = Value(static_cast<std::int64_t>(std::stoll(t.value)));
        return e;
      }
      case TokenKind::kFloat: {
        next();
        auto e = make(ExprKind::kLiteral, t.line);
        e->literal = Value(std::strtod(t.value.c_str(), nullptr));
        return e;
      }
      case TokenKind::kOperator:
        if (t.value == "(") {
          next();
          if (skip_op(")")) return make(ExprKind::kList, t.line);
          ExprPtr inner = parse_tuple(true);
          expect_op(")");
          return inner;
        }
        if (t.value == "[") {
          next();
          auto e = make(ExprKind::kList, t.line);
          while (!is_op("]")) {
            if (!e->children.empty()) expect_op(",");
            if (is_op("]")) break;
            e->children.push_back(parse_expression(true));
          }
          expect_op("]");
          return e;
        }
        if (t.value == "{") {
          next();
          auto e = make(ExprKind::kDict, t.line);
          while (!is_op("}")) {
            if (!e->children.empty()) expect_op(",");
            if (is_op("}")) break;
            e->children.push_back(parse_expression(true));
            expect_op(":");
            e->children.push_back(parse_expression(true));
          }
          expect_op("}");
          return e;
        }
        break;
      default:
        break;
    }
    fail("unexpected " + describe_token(t));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        int line = next().line;
        if (cur().kind == TokenKind::kName) {
          auto e = make(ExprKind::kAttr, line);
          e->name = next().value;
          e->children.push_back(std::move(node));
          node = std::move(e);
        } else if (cur().kind == TokenKind::kInt) {
          auto e = make(ExprKind::kItem, line);
          auto index = make(ExprKind::kLiteral, line);
          index->literal = Value(static_cast<std::int64_t>(std::stoll(next().value)));
          e->children.push_back(std::move(node));
          e->children.push_back(std::move(index));
          node = std::move(e);
        } else {
          fail("expected name or number after '.'");
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    DepthGuard guard(this);
    int line = next().line;  // [
    ExprPtr parts[3];
    bool is_slice = false;
    if (!is_op(":")) parts[0] = parse_expression(true);
    if (skip_op(":")) {
      is_slice = true;
      if (!is_op("]") && !is_op(":")) parts[1] = parse_expression(true);
      if (skip_op(":") && !is_op("]")) parts[2] = parse_expression(true);
    }
    expect_op("]");
    auto e = make(is_slice ? ExprKind::kSlice : ExprKind::kItem, line);
    e->children.push_back(std::move(node));
    if (is_slice) {
      for (auto& p : parts)
        e->children.push_back(std::move(p));
    } else {
      e->children.push_back(std::move(parts[0]));
    }
    return e;
  }

  // Parses "(args)" into e->children (after any already there) and e->kwargs.
  void parse_args(Expr* e) {
    DepthGuard guard(this);
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail("*args and **kwargs are not supported");
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().value == "=") {
        std::string key = next().value;
        next();
        e->kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e->kwargs.empty()) fail("positional argument follows keyword argument");
        e->children.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::kCall, cur().line);
    e->children.push_back(std::move(node));
    parse_args(e.get());
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        int line = next().line;
        auto e = make(ExprKind::kFilter, line);
        e->name = expect_name();
        while (skip_op("."))
          e->name = cat({e->name, ".", expect_name()});
        e->children.push_back(std::move(node));
        if (is_op("(")) parse_args(e.get());
        node = std::move(e);
      } else if (is_name("is")) {
        int line = next().line;
        auto e = make(ExprKind::kTest, line);
        e->negated = skip_name("not");
        e->name = expect_name();
        while (skip_op("."))
          e->name = cat({e->name, ".", expect_name()});
        e->children.push_back(std::move(node));
        const Token& t = cur();
        if (is_op("(")) {
          parse_args(e.get());
        } else if ((t.kind == TokenKind::kName || t.kind == TokenKind::kString || t.kind == TokenKind::kInt ||
                    t.kind == TokenKind::kFloat || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("you cannot chain multiple tests with is");
          DepthGuard guard(this);
          e->children.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  const std::vector<Token>& tokens_;
  ParserLimits limits_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const ParserLimits& limits) {
  return Parser(tokens, limits).parse_template();
}

}  // namespace pagoda::jinja
