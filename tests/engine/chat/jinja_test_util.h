// Helpers shared by the Jinja interpreter tests: render a template source against a JSON context
// the way transformers' environment would, returning the output or the error Status; table rows
// of (source, context, expected output).
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/chat/jinja_template.h"

namespace pagoda::jinja {

inline StatusOr<std::string> render_source(const std::string& source, const std::string& context_json = "{}",
                                           const JinjaLimits& limits = {}) {
  auto tmpl = JinjaTemplate::parse(source, limits);
  if (!tmpl.ok()) return tmpl.status();
  ValueDict context;
  const nlohmann::ordered_json json = nlohmann::ordered_json::parse(context_json);
  for (const auto& [key, value] : json.items()) {
    context.set(key, Value::from_json(value));
  }
  return tmpl->render(context);
}

// The output, or "ERROR: <status>" so that table-driven tests can compare one string.
// With PAGODA_DUMP_JINJA_CASES=<file> set, also appends {source, context, output} as a JSON line, so
// that tools/golden/chat/check_jinja_cases.py can check the expectations against jinja2 itself.
inline std::string render_or_error(const std::string& source, const std::string& context_json = "{}") {
  if (const char* dump = std::getenv("PAGODA_DUMP_JINJA_CASES")) {
    auto r = render_source(source, context_json);
    nlohmann::ordered_json line = {{"source", source},
                                   {"context", nlohmann::ordered_json::parse(context_json)}};
    if (r.ok()) line["output"] = *r;
    std::ofstream(dump, std::ios::app)
        << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  auto out = render_source(source, context_json);
  return out.ok() ? *out : "ERROR: " + out.status().to_string();
}

// One table row: a template source, its context as JSON, the expected output.
struct Case {
  const char* source;
  const char* context;
  const char* expected;
};

inline void run_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    EXPECT_EQ(render_or_error(c.source, c.context), c.expected) << "template: " << c.source;
  }
}

}  // namespace pagoda::jinja
