// Unit tests of the Jinja interpreter: expressions, statements, whitespace control, undefined
// semantics, errors with positions, and limits. Expected outputs are what jinja2 3.1 produces with
// transformers' settings (trim_blocks, lstrip_blocks, loopcontrols).
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/engine/chat/jinja_test_util.h"

namespace pagoda::jinja {
namespace {

TEST(JinjaExpressionTest, Arithmetic) {
  run_cases({
      {"{{ 1 + 2 * 3 }}", "{}", "7"},
      {"{{ (1 + 2) * 3 }}", "{}", "9"},
      {"{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }}", "{}", "3 -4 1 2 -2"},
      {"{{ 7 / 2 }} {{ 4 / 2 }} {{ 1 / 3 }}", "{}", "3.5 2.0 0.3333333333333333"},
      {"{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }}", "{}", "1024 0.5 64"},
      {"{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 123.0 }}", "{}",
       "2.5 0.30000000000000004 1e+20 1e-05 123.0"},
      {"{{ -3 }} {{ +3 }} {{ -(2 - 5) }} {{ 1_000 }}", "{}", "-3 3 3 1000"},
      {"{{ 'ab' * 3 }} {{ 2 * 'x' }} {{ [1] * 2 }}", "{}", "ababab xx [1, 1]"},
      {"{{ 'a' + 'b' }} {{ [1] + [2] }} {{ 'a' ~ 1 ~ none ~ true }}", "{}", "ab [1, 2] a1NoneTrue"},
      {"{{ true + 1 }} {{ n - 1 }}", R"({"n": 5})", "2 4"},
  });
}

TEST(JinjaExpressionTest, LiteralsAndPrinting) {
  run_cases({
      {"{{ 'it''s' }} {{ \"a\" 'b' }}", "{}", "its ab"},
      {R"({{ 'tab\there' }}|{{ "q\"q" }}|{{ 'back\\slash' }}|{{ '\u00e9\x41' }}|{{ '\d' }})", "{}",
       "tab\there|q\"q|back\\slash|\xC3\xA9"
       "A|\\d"},
      {"{{ none }} {{ None }} {{ true }} {{ False }}", "{}", "None None True False"},
      {"{{ [1, 'a', none, true, 1.0] }}", "{}", "[1, 'a', None, True, 1.0]"},
      {"{{ {'a': 1, 'b': [2]} }}", "{}", "{'a': 1, 'b': [2]}"},
      {"{{ [\"it's\"] }} {{ ['a\\nb'] }}", "{}", "[\"it's\"] ['a\\nb']"},
      // Tuples are lists here: (1, 2) prints as [1, 2] where jinja2 prints (1, 2).
      {"{{ (1, 2) | length }} {{ () | length }} {{ (1, 2)[1] }}", "{}", "2 0 2"},
      {"{{ x }}", R"({"x": {"k": [1, 2.5, null, "s"]}})", "{'k': [1, 2.5, None, 's']}"},
  });
}

TEST(JinjaExpressionTest, ComparisonsAndLogic) {
  run_cases({
      {"{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, 2] == [1, 2] }}", "{}",
       "True False True True True"},
      {"{{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2 }}", "{}", "True True True"},
      {"{{ 0 or 'x' }} {{ 1 and 'y' }} {{ '' and 'z' }} {{ not 0 }} {{ not [1] }}", "{}", "x y  True False"},
      {"{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", "{}",
       "True True True True"},
      {"{{ 'yes' if 1 else 'no' }} [{{ 'x' if false }}] {{ 'a' if 0 else 'b' if 1 else 'c' }}", "{}",
       "yes [] b"},
      {"{{ not x is defined }} {{ x is not defined }}", "{}", "True True"},
  });
}

TEST(JinjaExpressionTest, AttributesSubscriptsAndSlices) {
  run_cases({
      {"{{ d.a }} {{ d['a'] }} {{ d.b.c }} {{ l[0] }} {{ l[-1] }} [{{ l[9] }}] {{ l.1 }}",
       R"({"d": {"a": 1, "b": {"c": 2}}, "l": [10, 20, 30]})", "1 1 2 10 30 [] 20"},
      {"{{ l[::-1] }} {{ l[1:] }} {{ l[:2] }} {{ l[::2] }} {{ l[-2:] }} {{ l[5:] }}", R"({"l": [1, 2, 3]})",
       "[3, 2, 1] [2, 3] [1, 2] [1, 3] [2, 3] []"},
      {"{{ s[0] }} {{ s[-1] }} {{ s[1:3] }} {{ s[::-1] }}", R"({"s": "h\u00e9llo"})",
       "h o \xC3\xA9l oll\xC3\xA9h"},
      {"{{ d.items is callable }}", R"({"d": {"items": 5}})", "True"},
      {"{{ d['items'] }}", R"({"d": {"items": 5}})", "5"},
      {"[{{ d.missing }}] {{ d.missing is defined }} {{ none.x is defined }}", R"({"d": {}})",
       "[] False False"},
  });
}

TEST(JinjaStatementTest, IfElifElse) {
  run_cases({
      {"{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}", R"({"x": 2})", "two"},
      {"{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}", R"({"x": 7})", "many"},
      {"{% if x %}yes{% endif %}", R"({"x": []})", ""},
      {"{% if x %}yes{% endif %}", "{}", ""},
  });
}

TEST(JinjaStatementTest, ForLoops) {
  run_cases({
      {"{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ "
       "loop.first }}"
       "{{ loop.last }}{{ loop.length }};{% endfor %}",
       R"({"l": ["a", "b"]})", "1021TrueFalse2;2110FalseTrue2;"},
      {"{% for x in [] %}x{% else %}empty{% endfor %}", "{}", "empty"},
      {"{% for x in l if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}", R"({"l": [1, 2, 3]})", "2/2 3/2 "},
      {"{% for x in l %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x "
       "}}{% endfor %}",
       R"({"l": [1, 2, 3, 4, 5]})", "13"},
      {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", R"({"d": {"b": 1, "a": 2}})", "b=1;a=2;"},
      {"{% for k in d %}{{ k }}{% endfor %}", R"({"d": {"b": 1, "a": 2}})", "ba"},
      {"{% for c in 'h\u00e9' %}[{{ c }}]{% endfor %}", "{}", "[h][\xC3\xA9]"},
      {"{% for x in undefined_thing %}x{% endfor %}done", "{}", "done"},
      {"{% for i in range(3) %}{{ i }}{% endfor %} {% for i in range(1, 7, 2) %}{{ i }}{% endfor %}", "{}",
       "012 135"},
      {"{% for x in l %}{{ loop.previtem }}-{{ loop.nextitem }} {% endfor %}", R"({"l": [1, 2]})", "-2 1- "},
      {"{% for x in l %}{{ loop.cycle('a', 'b') }}{% endfor %}", R"({"l": [1, 2, 3]})", "aba"},
  });
}

TEST(JinjaStatementTest, SetScopingAndNamespace) {
  run_cases({
      {"{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}", "{}", "21"},
      {"{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}",
       "{}", "4"},
      {"{% if true %}{% set y = 5 %}{% endif %}{{ y }}", "{}", "5"},
      {"{% set a, b = 1, 2 %}{{ a }}{{ b }}", "{}", "12"},
      {"{% set block %}in {{ 1 + 1 }}{% endset %}[{{ block }}]", "{}", "[in 2]"},
      {"{% for i in [1, 2] %}{% if loop.first %}{% set seen = 'x' %}{% endif %}{{ seen }}{% endfor %}", "{}",
       "x"},
      {"{% set ns = namespace(a=1, b='s') %}{{ ns.a }}{{ ns.b }}", "{}", "1s"},
  });
}

TEST(JinjaStatementTest, Macros) {
  run_cases({
      {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ "
       "greet('Al', "
       "punct='?') }}",
       "{}", "Hi Bo! Hi Al?"},
      {"{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", "{}", "321"},
  });
}

TEST(JinjaWhitespaceTest, ControlAndTrimming) {
  run_cases({
      // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before it.
      {"a\n  {% if true %}\n  b\n  {% endif %}\nc", "{}", "a\n  b\nc"},
      {"a  {%- if true -%}  b  {%- endif -%}  c", "{}", "abc"},
      {"a  {{- 'x' -}}  b", "{}", "axb"},
      {"a\n{{ 'x' }}\nb", "{}", "a\nx\nb"},
      {"  {%+ if true %}x{% endif %}", "{}", "  x"},
      {"{% if true +%}\nx{% endif %}", "{}", "\nx"},
      {"a {# comment #}b\n  {# own line #}\nc", "{}", "a b\nc"},
      {"{% raw %}{{ not evaluated }}{% endraw %}", "{}", "{{ not evaluated }}"},
      {"line\n", "{}", "line"},
      {"a\r\nb\rc", "{}", "a\nb\nc"},
      {"{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}\n", "{}", "  1\n  2\n"},
      {"x {%- if true %} y{% endif %}", "{}", "x y"},
  });
}

TEST(JinjaUndefinedTest, DefaultUndefinedSemantics) {
  run_cases({
      {"[{{ nope }}]", "{}", "[]"},
      {"{{ nope is defined }} {{ nope is undefined }} {{ 'y' if nope else 'n' }}", "{}", "False True n"},
      {"{{ nope|length }} {{ nope|default('d') }} {{ nope ~ 'a' }} {{ nope == nope }}", "{}", "0 d a True"},
  });
  EXPECT_EQ(render_or_error("{{ nope.attr }}"),
            "ERROR: INVALID_ARGUMENT: template error at line 1: UndefinedError: 'nope' is undefined");
  EXPECT_EQ(render_or_error("{{ nope + 1 }}"),
            "ERROR: INVALID_ARGUMENT: template error at line 1: UndefinedError: 'nope' is undefined");
  EXPECT_EQ(render_or_error("{{ d.x.y }}", R"({"d": {}})"),
            "ERROR: INVALID_ARGUMENT: template error at line 1: UndefinedError: 'dict object' has no "
            "attribute 'x'");
  EXPECT_EQ(render_or_error("{{ nope() }}"),
            "ERROR: INVALID_ARGUMENT: template error at line 1: UndefinedError: 'nope' is undefined");
}

TEST(JinjaErrorTest, SyntaxErrorsCarryLineAndColumn) {
  auto out = render_source("hello\n{% if %}x{% endif %}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("syntax error at line 2, column 7"), std::string::npos)
      << out.status().message();

  out = render_source("a\nb\n{% for x in y %}never closed");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("expected 'endfor'"), std::string::npos) << out.status().message();

  out = render_source("{% frobnicate %}");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("unknown tag 'frobnicate'"), std::string::npos);

  out = render_source("{{ x | nosuchfilter }}");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("no filter named 'nosuchfilter'"), std::string::npos);

  out = render_source("{% if false %}{{ x is nosuchtest }}{% endif %}");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("no test named 'nosuchtest'"), std::string::npos);

  for (const char* bad :
       {"{{ 1 +", "{{ 'unterminated }}", "{% if x %}{% else %}{% else %}{% endif %}", "{{ (1 }}",
        "{% break %}", "{{ x ]] }}", "{# never closed", "{% set %}", "{{ }}", "{% endif %}",
        "{% for in x %}{% endfor %}", "{{ f(a=1, 2) }}", "{{ 99999999999999999999 }}"}) {
    auto r = render_source(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(JinjaErrorTest, RuntimeErrorsAndRaiseException) {
  auto out = render_source("line1\nline2 {{ raise_exception('Conversation roles must alternate') }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "template raised an exception: Conversation roles must alternate");

  out = render_source("a\n\n{{ 'a' + 1 }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "template error at line 3: TypeError: can only concatenate str (not \"int\") to str");

  EXPECT_NE(render_or_error("{{ 1 / 0 }}").find("ZeroDivisionError"), std::string::npos);
  EXPECT_NE(render_or_error("{{ 1 < 'a' }}").find("not supported between"), std::string::npos);
  EXPECT_NE(render_or_error("{% for x in 5 %}{% endfor %}").find("not iterable"), std::string::npos);
  EXPECT_NE(render_or_error("{{ 'x'() }}").find("not callable"), std::string::npos);
  // Integers are 64-bit here (Python's are unbounded): overflow is an error, never a wrong value.
  EXPECT_NE(render_or_error("{{ 9223372036854775807 + 1 }}").find("OverflowError"), std::string::npos);
  EXPECT_NE(render_or_error("{% set x = 1 %}{% set x.a = 2 %}").find("non-namespace"), std::string::npos);
  // The immutable sandbox refuses mutation.
  EXPECT_NE(render_or_error("{{ l.append(1) }}", R"({"l": []})").find("unsafe"), std::string::npos);
  EXPECT_NE(render_or_error("{{ d.pop('a') }}", R"({"d": {"a": 1}})").find("unsafe"), std::string::npos);
}

TEST(JinjaLimitTest, HostileTemplatesHitLimitsNotCrashes) {
  JinjaLimits small;
  small.render.max_output_bytes = 1000;
  small.render.max_loop_iterations = 500;
  small.render.max_call_depth = 8;
  small.max_nesting = 32;

  auto out = render_source("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", "{}",
                           small);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().to_string();

  out = render_source("{% for i in range(400) %}xxxxxxxxxx{% endfor %}", "{}", small);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);

  out = render_source("{{ 'x' * 100000 }}", "{}", small);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);

  out = render_source("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "{}", small);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);

  std::string deep = std::string(200, '(') + "1" + std::string(200, ')');
  out = render_source("{{ " + deep + " }}", "{}", small);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("nested too deeply"), std::string::npos);

  std::string deep_blocks;
  for (int i = 0; i < 100; ++i)
    deep_blocks += "{% if true %}";
  out = render_source(deep_blocks, "{}", small);
  ASSERT_FALSE(out.ok());

  // Values nested without bound (x = [x] in a loop) are refused before printing or freeing them.
  out = render_source(
      "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);

  // A namespace holding itself is printed with a depth guard and freed after the render.
  out = render_source("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}");
  ASSERT_FALSE(out.ok());

  out = render_source("{{ range(100000000) | length }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);

  JinjaLimits tiny_source;
  tiny_source.max_source_bytes = 10;
  out = render_source("{{ 'more than ten bytes' }}", "{}", tiny_source);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);

  out = render_source("\xff\xfe{{ 1 }}");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("UTF-8"), std::string::npos);
}

TEST(JinjaTemplateTest, RenderIsRepeatableAndConcurrent) {
  auto tmpl = JinjaTemplate::parse(
      "{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}");
  ASSERT_TRUE(tmpl.ok());
  ValueDict ctx;
  ctx.set("xs", Value(ValueList{Value(1), Value(2), Value(3)}));
  std::vector<std::thread> threads;
  std::atomic<int> num_ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto out = tmpl->render(ctx);
        if (out.ok() && *out == "6") ++num_ok;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(num_ok.load(), 200);
}

}  // namespace
}  // namespace pagoda::jinja
