// `pagoda chat-template`: renders a conversation with a model's chat template
// (tokenizer_config.json), as the server does before tokenizing.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "base/mapped_file.h"
#include "engine/chat/chat_template.h"
#include "tools/command.h"
#include "tools/data_dirs.h"

namespace pagoda::tools {
namespace {

struct ChatTemplateFlags {
  std::string model, messages, tools;
  bool no_thinking = false;
  bool add_generation_prompt = false;
};

nlohmann::ordered_json read_json(const std::string& path, const char* flag) {
  auto text = read_file(path);
  if (!text.ok()) fail_command("chat-template", std::string(flag) + ": " + text.status().message());
  auto j = nlohmann::ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail_command("chat-template", std::string(flag) + ": " + path + " is not valid JSON");
  return j;
}

}  // namespace

void add_chat_template_command(CLI::App& app) {
  auto f = std::make_shared<ChatTemplateFlags>();
  CLI::App* cmd = app.add_subcommand("chat-template", "Render a conversation with the model's chat template");
  cmd->add_option("--model,-m", f->model,
                  "Model directory holding tokenizer_config.json (default: bundled Qwen 3)");
  cmd->add_option("--messages", f->messages,
                  "JSON file: an array of messages, or {\"messages\": [...], \"tools\": [...]}")
      ->required();
  cmd->add_option("--tools", f->tools, "JSON file: an array of tool definitions");
  cmd->add_flag("--no-thinking", f->no_thinking, "Set enable_thinking=false (Qwen 3's non-thinking mode)");
  cmd->add_flag("--add-generation-prompt", f->add_generation_prompt, "End with the assistant turn's opening");
  cmd->callback([f] {
    std::string dir = f->model;
    if (dir.empty()) {
      auto d = find_tokenizer_dir();
      if (!d.ok()) fail_command("chat-template", d.status().message());
      dir = *d;
    }
    auto tmpl =
        ChatTemplate::from_tokenizer_config((std::filesystem::path(dir) / "tokenizer_config.json").string());
    if (!tmpl.ok()) fail_command("chat-template", tmpl.status().message());
    nlohmann::ordered_json doc = read_json(f->messages, "--messages");
    nlohmann::ordered_json messages = doc, tools;
    if (doc.is_object()) {
      messages = doc.value("messages", nlohmann::ordered_json());
      tools = doc.value("tools", nlohmann::ordered_json());
    }
    if (!f->tools.empty()) tools = read_json(f->tools, "--tools");
    ChatTemplateOptions o;
    o.add_generation_prompt = f->add_generation_prompt;
    if (f->no_thinking) o.enable_thinking = false;
    auto out = tmpl->render(messages, tools, o);
    if (!out.ok()) fail_command("chat-template", out.status().message());
    std::fwrite(out->data(), 1, out->size(), stdout);
  });
}

}  // namespace pagoda::tools
