#include "server/prompt_builder.h"

#include <string>

#include "server/request_validation.h"

namespace pagoda::server {

StatusOr<Prompt> build_text_prompt(const ServingContext& ctx, std::string_view text, std::string_view field) {
  PAGODA_RETURN_IF_ERROR(validate_text(text, field, ctx.limits().max_prompt_bytes));
  if (text.empty()) return invalid_argument(std::string(field) + ": the prompt is empty");
  Prompt p;
  p.ids = ctx.tokenizer().encode(text, /*parse_special=*/true);
  if (p.ids.empty()) return invalid_argument(std::string(field) + ": the prompt has no tokens");
  return p;
}

StatusOr<Prompt> build_token_prompt(const ServingContext& ctx, std::vector<std::int32_t> ids,
                                    std::string_view field) {
  if (ids.empty()) return invalid_argument(std::string(field) + ": the prompt is empty");
  std::int32_t vocab = ctx.engine().model_config().vocab_size;
  for (std::int32_t id : ids) {
    if (id < 0 || id >= vocab) {
      return invalid_argument(std::string(field) + ": token id " + std::to_string(id) + " is not in [0, " +
                              std::to_string(vocab) + ")");
    }
  }
  Prompt p;
  p.ids = std::move(ids);
  return p;
}

StatusOr<std::string> render_chat(const ServingContext& ctx, const ChatPromptInput& input) {
  const RequestLimits& limits = ctx.limits();
  if (!input.messages.is_array() || input.messages.empty()) {
    return invalid_argument("messages: must be a non-empty array");
  }
  if (static_cast<std::int64_t>(input.messages.size()) > limits.max_messages) {
    return invalid_argument("messages: at most " + std::to_string(limits.max_messages) + " messages");
  }
  if (!input.tools.is_null()) {
    if (!input.tools.is_array()) return invalid_argument("tools: must be an array");
    if (static_cast<std::int64_t>(input.tools.size()) > limits.max_tools) {
      return invalid_argument("tools: at most " + std::to_string(limits.max_tools) + " tools");
    }
    if (static_cast<std::int64_t>(input.tools.dump().size()) > limits.max_tools_bytes) {
      return invalid_argument("tools: larger than the limit of " + std::to_string(limits.max_tools_bytes) +
                              " bytes");
    }
  }
  const ChatTemplate* tmpl = ctx.chat_template();
  if (tmpl == nullptr) return invalid_argument("messages: this model has no chat template");
  ChatTemplateOptions options;
  options.add_generation_prompt = true;
  options.enable_thinking = input.enable_thinking;
  options.extra_context = input.extra_kwargs;
  nlohmann::ordered_json tools =
      input.tools.is_array() && !input.tools.empty() ? input.tools : nlohmann::ordered_json();
  PAGODA_ASSIGN_OR_RETURN(std::string text, tmpl->render(input.messages, tools, options));
  if (static_cast<std::int64_t>(text.size()) > limits.max_prompt_bytes) {
    return invalid_argument("messages: the rendered prompt is longer than the limit of " +
                            std::to_string(limits.max_prompt_bytes) + " bytes");
  }
  return text;
}

StatusOr<Prompt> build_chat_prompt(const ServingContext& ctx, const ChatPromptInput& input) {
  PAGODA_ASSIGN_OR_RETURN(std::string text, render_chat(ctx, input));
  Prompt p;
  p.ids = ctx.tokenizer().encode(text, /*parse_special=*/true);
  if (p.ids.empty()) return invalid_argument("messages: the prompt has no tokens");
  std::size_t open = text.rfind("<think>");
  std::size_t close = text.rfind("</think>");
  p.starts_in_reasoning = open != std::string::npos && (close == std::string::npos || close < open);
  return p;
}

}  // namespace pagoda::server
