// libFuzzer target for the chat template path: the input is used (1) as a JSON messages document
// rendered with Qwen 3's template (loaded once), (2) as a template source parsed and rendered with
// small limits, and (3) as model output fed to the reasoning and tool-call parsers. Never crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/chat/chat_template.h"
#include "engine/chat/jinja_template.h"
#include "engine/chat/reasoning_parser.h"
#include "engine/chat/tool_call_parser.h"

namespace {

const pagoda::ChatTemplate* qwen_template() {
  static const pagoda::ChatTemplate* tmpl = [] {
    auto t = pagoda::ChatTemplate::from_tokenizer_config(std::string(PAGODA_SOURCE_DIR) +
                                                         "/tests/data/chat/qwen3_tokenizer_config.json");
    return t.ok() ? new pagoda::ChatTemplate(std::move(t).value()) : nullptr;
  }();
  return tmpl;
}

void render_as_messages(std::string_view text) {
  const pagoda::ChatTemplate* tmpl = qwen_template();
  if (tmpl == nullptr) return;
  nlohmann::ordered_json doc = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return;
  nlohmann::ordered_json messages = doc;
  nlohmann::ordered_json tools;
  pagoda::ChatTemplateOptions options;
  if (doc.is_object()) {
    messages = doc.value("messages", nlohmann::ordered_json());
    tools = doc.value("tools", nlohmann::ordered_json());
    // Only booleans set options: json::value<bool> throws on any other type.
    auto generation_prompt = doc.find("add_generation_prompt");
    if (generation_prompt != doc.end() && generation_prompt->is_boolean())
      options.add_generation_prompt = generation_prompt->get<bool>();
    auto thinking = doc.find("enable_thinking");
    if (thinking != doc.end() && thinking->is_boolean()) options.enable_thinking = thinking->get<bool>();
  }
  (void)tmpl->render(messages, tools, options);
}

void render_as_template(std::string_view text) {
  pagoda::jinja::JinjaLimits limits;
  limits.max_source_bytes = 4096;
  limits.max_nesting = 32;
  limits.render.max_output_bytes = 64 * 1024;
  limits.render.max_loop_iterations = 10000;
  limits.render.max_call_depth = 8;
  auto tmpl = pagoda::jinja::JinjaTemplate::parse(text, limits);
  if (!tmpl.ok()) return;
  using pagoda::jinja::Value;
  pagoda::jinja::ValueDict context;
  context.set("messages",
              Value::from_json(nlohmann::ordered_json::parse(
                  R"([{"role": "system", "content": "s"}, {"role": "user", "content": "<tool_response>x"},
                                  {"role": "assistant", "content": "<think>r</think>a", "tool_calls": [
                                    {"function": {"name": "f", "arguments": {"k": [1, 2.5, null]}}}]},
                                  {"role": "tool", "content": "t"}])")));
  context.set("tools",
              Value::from_json(nlohmann::ordered_json::parse(R"([{"name": "f", "parameters": {}}])")));
  context.set("add_generation_prompt", Value(true));
  context.set("eos_token", Value("<|im_end|>"));
  (void)tmpl->render(context);
}

void parse_as_output(std::string_view text) {
  (void)pagoda::ReasoningParser::parse(text, !text.empty() && (text[0] & 1));
  (void)pagoda::ToolCallParser::parse(text);
  pagoda::ToolCallParser stream;
  for (std::size_t i = 0; i < text.size(); i += 7)
    (void)stream.push(text.substr(i, 7));
  (void)stream.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  render_as_messages(text);
  render_as_template(text);
  parse_as_output(text);
  return 0;
}
