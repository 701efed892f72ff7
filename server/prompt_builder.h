// Prompt building shared by the front ends: text, token ids or chat messages
// (rendered with the model's chat template) to the token ids the engine takes,
// with the size and vocabulary checks. Runs on the calling front-end thread;
// reads only immutable state (tokenizer, template).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "server/serving_context.h"

namespace pagoda::server {

struct Prompt {
  std::vector<std::int32_t> ids;
  bool starts_in_reasoning = false;  // the rendered prompt ends inside <think>
};

struct ChatPromptInput {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null or an array of tool definitions
  std::optional<bool> enable_thinking;
  nlohmann::ordered_json extra_kwargs = nlohmann::ordered_json::object();  // other chat_template_kwargs
};

StatusOr<Prompt> build_text_prompt(const ServingContext& ctx, std::string_view text, std::string_view field);
StatusOr<Prompt> build_token_prompt(const ServingContext& ctx, std::vector<std::int32_t> ids,
                                    std::string_view field);
// Renders with add_generation_prompt. Errors: INVALID_ARGUMENT for malformed messages.
StatusOr<Prompt> build_chat_prompt(const ServingContext& ctx, const ChatPromptInput& input);
// The rendered text only (for /tokenize of messages).
StatusOr<std::string> render_chat(const ServingContext& ctx, const ChatPromptInput& input);

}  // namespace pagoda::server
