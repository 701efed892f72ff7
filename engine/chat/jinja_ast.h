// Syntax tree of a parsed Jinja template: expressions (Expr) and statements (Node).
// Built once by the parser, then immutable and shared by concurrent renders (any thread may read).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat/jinja_value.h"

namespace pagoda::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,    // literal
  kName,       // name
  kList,       // children (a tuple is a list too)
  kDict,       // children: key0, value0, key1, value1, ...
  kAttr,       // children[0].name
  kItem,       // children[0][children[1]]
  kSlice,      // children[0][children[1]:children[2]:children[3]] (null parts omitted)
  kCall,       // children[0](children[1..], kwargs)
  kFilter,     // children[0] | name(children[1..], kwargs)
  kTest,       // children[0] is name(children[1..], kwargs)
  kNot,        // not children[0]
  kNeg,        // -children[0]
  kPos,        // +children[0]
  kBinary,     // children[0] op children[1]
  kAnd,        // children[0] and children[1]
  kOr,         // children[0] or children[1]
  kCompare,    // children[0] compare_ops[0] children[1] compare_ops[1] children[2] ...
  kCondition,  // children[1] if children[0] else children[2] (children[2] may be null)
};

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr {
  ExprKind kind;
  int line = 0;
  Value literal;
  std::string name;
  BinaryOp binary_op = BinaryOp::kAdd;
  bool negated = false;  // kTest: "is not"
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<CompareOp> compare_ops;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

enum class NodeKind {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // branches (condition, body) ..., else_body
  kFor,       // for targets in expr [if filter] body [else else_body]
  kSet,       // set targets = expr, or set targets[0].attr = expr
  kSetBlock,  // set targets[0] %} body {% endset
  kMacro,     // macro name(params = defaults) body
  kBreak,
  kContinue,
  kScope,  // a transparent block ({% generation %}): body
};

struct IfBranch {
  ExprPtr condition;
  Body body;
};

struct Node {
  NodeKind kind;
  int line = 0;
  std::string text;                  // kText; kMacro: name
  std::string attr;                  // kSet: namespace attribute when assigning ns.attr
  ExprPtr expr;                      // kOutput, kFor (iterable), kSet (value)
  ExprPtr filter;                    // kFor: "if" filter
  std::vector<std::string> targets;  // kFor, kSet, kSetBlock; kMacro: parameter names
  std::vector<ExprPtr> defaults;     // kMacro: default per parameter (null when none)
  std::vector<IfBranch> branches;    // kIf
  Body body;                         // kFor, kSetBlock, kMacro, kScope
  Body else_body;                    // kIf, kFor
};

}  // namespace pagoda::jinja
