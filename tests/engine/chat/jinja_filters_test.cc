// Unit tests of Jinja filters, tests (`is ...`) and str/dict/list methods. Expected outputs are
// jinja2 3.1's (checked with tools/golden/chat/check_jinja_cases.py), with transformers' tojson.
#include <gtest/gtest.h>

#include "tests/engine/chat/jinja_test_util.h"

namespace pagoda::jinja {
namespace {

TEST(JinjaFilterTest, ToJsonMatchesTransformers) {
  run_cases({
      {"{{ x | tojson }}", R"({"x": {"b": 1, "a": [true, null, 1.5, "\u00e9\"\n"], "c": {}}})",
       "{\"b\": 1, \"a\": [true, null, 1.5, \"\xC3\xA9\\\"\\n\"], \"c\": {}}"},
      {"{{ x | tojson(indent=2) }}", R"({"x": {"a": [1, 2], "b": {}, "c": []}})",
       "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}"},
      {"{{ 'a<b>&' | tojson }} {{ 1.0 | tojson }} {{ 1e100 | tojson }} {{ '\x01' | tojson }}", "{}",
       "\"a<b>&\" 1.0 1e+100 \"\\u0001\""},
      {"{{ x | tojson(ensure_ascii=true) }}", R"({"x": "\u00e9\ud83d\ude00"})", "\"\\u00e9\\ud83d\\ude00\""},
  });
  EXPECT_NE(render_or_error("{{ nope | tojson }}").find("not JSON serializable"), std::string::npos);
}

TEST(JinjaFilterTest, StringFilters) {
  run_cases({
      {"{{ s | length }} {{ s | upper }} {{ s | lower }} {{ s | capitalize }} {{ s | title }}",
       R"({"s": "h\u00e9LLo wOrld"})",
       "11 H\xC3\x89LLO WORLD h\xC3\xA9llo world H\xC3\xA9llo world H\xC3\xA9llo World"},
      {"[{{ '  x \n' | trim }}] [{{ 'xxaxx' | trim('x') }}]", "{}", "[x] [a]"},
      {"{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }}", "{}", "a+b+c bba"},
      {"{{ 1 | string }}{{ none | string }} {{ [1] | string }}", "{}", "1None [1]"},
      {"{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '3' | float "
       "}}",
       "{}", "42 4 0 7 3 3.0"},
      {"{{ 'abc' | first }} {{ 'abc' | last }} {{ 'abc' | reverse }} {{ 'abc' | list }}", "{}",
       "a c cba ['a', 'b', 'c']"},
      {"{{ '<a href=\"x\">' | e }} {{ 'x' | safe }}", "{}", "&lt;a href=&#34;x&#34;&gt; x"},
      {"{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}", "{}", "a\n  b\n\n  c|  a\n  b"},
      {"{{ 'one two  three' | wordcount }}", "{}", "3"},
  });
}

TEST(JinjaFilterTest, SequenceFilters) {
  run_cases({
      {"{{ l | length }} {{ l | first }} {{ l | last }} {{ l | join(', ') }} {{ l | join }}",
       R"({"l": [3, 1, 2]})", "3 3 2 3, 1, 2 312"},
      {"{{ l | sort }} {{ l | sort(reverse=true) }} {{ l | reverse | list }} {{ l | sum }} {{ l | min }} {{ "
       "l | max }}",
       R"({"l": [3, 1, 2]})", "[1, 2, 3] [3, 2, 1] [2, 1, 3] 6 1 3"},
      {"{{ ['b', 'A', 'a'] | unique | list }} {{ ['b', 'A', 'c'] | sort }}", "{}",
       "['b', 'A'] ['A', 'b', 'c']"},
      {"{{ (d | items | list)[1][0] }} {{ d | list }} {{ d | length }} {{ (d | dictsort)[0][0] }}",
       R"({"d": {"b": 1, "a": 2}})", "a ['b', 'a'] 2 a"},
      {"{{ users | map(attribute='name') | join('/') }} {{ users | selectattr('admin') | "
       "map(attribute='name') | list }}",
       R"({"users": [{"name": "ann", "admin": true}, {"name": "bob", "admin": false}]})", "ann/bob ['ann']"},
      {"{{ users | rejectattr('admin') | list | length }} {{ users | selectattr('name', 'equalto', 'bob') | "
       "list | length }}",
       R"({"users": [{"name": "ann", "admin": true}, {"name": "bob", "admin": false}]})", "1 1"},
      {"{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ ['a', 'b'] | "
       "map('upper') | list }}",
       "{}", "[1, 3] [1, 3] ['A', 'B']"},
      {"[{{ [] | first }}] {{ x | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ 0 "
       "| d(5, boolean=true) }}",
       "{}", "[] d  d 5"},
      {"{{ -3 | abs }} {{ 2.5 | round }} {{ 2.567 | round(2) }} {{ 2.1 | round(method='ceil') }}", "{}",
       "3 2.0 2.57 3.0"},
  });
}

TEST(JinjaMethodTest, StringMethods) {
  run_cases({
      {"{{ s.startswith('<tool') }} {{ s.endswith('>') }} {{ s.startswith(('x', '<')) }}",
       R"({"s": "<tool_response>"})", "True True True"},
      {"{{ s.split('</think>') }} {{ s.split('</think>')[-1].lstrip('\n') }}",
       R"({"s": "<think>\nr\n</think>\n\nc"})", "['<think>\\nr\\n', '\\n\\nc'] c"},
      {"{{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }}", "{}",
       "['a', 'b'] ['a', 'b,c'] ['a,b', 'c']"},
      {"[{{ '\n\nx\n'.strip('\n') }}] [{{ '  x  '.lstrip() }}] [{{ '  x  '.rstrip() }}] [{{ 'xyx'.strip('x') "
       "}}]",
       "{}", "[x] [x  ] [  x] [y]"},
      {"{{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'hello world'.title() }} {{ 'they\\'re'.title() }} {{ "
       "'aXb'.capitalize() }}",
       "{}", "AB ab Hello World They'Re Axb"},
      {"{{ 'a-a'.replace('-', '') }} {{ 'abcb'.find('b') }} {{ 'abcb'.rfind('b') }} {{ 'abcb'.count('b') }}",
       "{}", "aa 1 3 2"},
      {"{{ ', '.join(['a', 'b']) }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }}", "{}",
       "a, b True True True"},
      {"{{ 'a\nb\r\nc'.splitlines() }}", "{}", "['a', 'b', 'c']"},
  });
}

TEST(JinjaMethodTest, DictAndListMethods) {
  run_cases({
      {"{{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }}",
       R"({"d": {"a": 1, "b": 2}})", "['a', 'b'] [1, 2] 1 None 0"},
      {"{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", R"({"d": {"a": 1, "b": 2}})", "a1b2"},
      {"{{ l.index(2) }} {{ l.count(1) }}", R"({"l": [1, 2, 1]})", "1 2"},
  });
}

TEST(JinjaTestsTest, IsTests) {
  run_cases({
      {"{{ x is defined }} {{ y is undefined }} {{ n is none }} {{ s is string }} {{ 1 is number }} {{ 1.5 "
       "is number }}",
       R"({"x": 1, "n": null, "s": "a"})", "True True True True True True"},
      {"{{ d is mapping }} {{ l is mapping }} {{ l is iterable }} {{ s is iterable }} {{ 1 is iterable }} {{ "
       "l is sequence }}",
       R"({"d": {}, "l": [], "s": ""})", "True False True True False True"},
      {"{{ t is true }} {{ t is false }} {{ 1 is true }} {{ f is false }} {{ t is boolean }} {{ 1 is boolean "
       "}}",
       R"({"t": true, "f": false})", "True False False True True False"},
      {"{{ 1 is integer }} {{ 1.0 is integer }} {{ 1.0 is float }} {{ true is integer }} {{ true is number "
       "}}",
       "{}", "True False True False True"},
      {"{{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 2 is eq 2 }} {{ "
       "2 is gt 1 }}",
       "{}", "True True True False True True"},
      {"{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 2 is in [1, 2] }} {{ x is not none }} {{ range is "
       "callable }}",
       R"({"x": 0})", "True True True True True"},
      {"{{ 'x' is string and 'y' is string }} {{ x is none or x is string }}", R"({"x": null})", "True True"},
  });
}

}  // namespace
}  // namespace pagoda::jinja
