// ChatTemplate: renders a conversation (OpenAI-style messages, tools) into the model's prompt text by
// running the checkpoint's own Jinja chat template, the way transformers' apply_chat_template does.
// Immutable after construction; render() is const and safe to call from many threads at once.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "engine/chat/jinja_template.h"

namespace pagoda {

struct ChatTemplateOptions {
  bool add_generation_prompt = false;
  std::optional<bool> enable_thinking;  // unset: the variable is undefined in the template
  // Other chat_template_kwargs, passed to the template as variables. May not name messages, tools,
  // documents or add_generation_prompt.
  nlohmann::ordered_json extra_context = nlohmann::ordered_json::object();
};

class ChatTemplate {
 public:
  // `bos_token` / `eos_token`: empty means the checkpoint has none (the variable is undefined).
  static StatusOr<ChatTemplate> from_source(std::string source, std::string bos_token, std::string eos_token);
  // Reads "chat_template" (a string, or a list of {name, template} taking "default", and "tool_use"
  // when tools are given) plus bos/eos tokens from a tokenizer_config.json.
  static StatusOr<ChatTemplate> from_tokenizer_config(const std::string& path);
  // Same, from the file's parsed contents.
  static StatusOr<ChatTemplate> from_tokenizer_config_json(const nlohmann::ordered_json& config);

  // messages: array of {role, content, [reasoning_content], [tool_calls], [name]...}; tools: null or
  // an array of tool definitions. Content may be a string, null, or a list of {"type": "text",
  // "text": ...} parts, which are joined with "\n" (as vLLM does for text-only templates).
  // Errors: INVALID_ARGUMENT for malformed messages and template errors (raise_exception included),
  // RESOURCE_EXHAUSTED when the template hits a limit.
  StatusOr<std::string> render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                               const ChatTemplateOptions& options) const;

  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }

 private:
  ChatTemplate(jinja::JinjaTemplate default_template, std::optional<jinja::JinjaTemplate> tool_use_template,
               std::string bos_token, std::string eos_token)
      : default_template_(std::move(default_template)),
        tool_use_template_(std::move(tool_use_template)),
        bos_token_(std::move(bos_token)),
        eos_token_(std::move(eos_token)) {}

  jinja::JinjaTemplate default_template_;
  std::optional<jinja::JinjaTemplate> tool_use_template_;
  std::string bos_token_;
  std::string eos_token_;
};

}  // namespace pagoda
