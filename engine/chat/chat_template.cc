#include "engine/chat/chat_template.h"

#include <fstream>
#include <sstream>

#include "base/strings.h"

namespace pagoda {
namespace {

using jinja::Value;
using jinja::ValueDict;
using jinja::ValueList;

constexpr int kMaxInputDepth = 64;
constexpr std::size_t kMaxConfigBytes = 64u << 20;

// Walks a JSON value checking nesting depth and UTF-8 validity of every string.
Status check_json(const nlohmann::ordered_json& j, const std::string& where, int depth) {
  if (depth > kMaxInputDepth)
    return invalid_argument(where + " is nested deeper than " + std::to_string(kMaxInputDepth));
  if (j.is_string()) {
    if (!is_valid_utf8(j.get_ref<const std::string&>()))
      return invalid_argument(where + " is not valid UTF-8");
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      PAGODA_RETURN_IF_ERROR(check_json(j[i], where, depth + 1));
    }
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (!is_valid_utf8(k)) return invalid_argument(where + " has a key that is not valid UTF-8");
      PAGODA_RETURN_IF_ERROR(check_json(v, where, depth + 1));
    }
  }
  return ok_status();
}

// Validates one message and converts it, joining text content parts.
StatusOr<Value> convert_message(const nlohmann::ordered_json& m, std::size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "]";
  if (!m.is_object()) return invalid_argument(where + " must be an object");
  auto role = m.find("role");
  if (role == m.end() || !role->is_string()) return invalid_argument(where + " needs a string \"role\"");
  ValueDict out;
  for (const auto& [key, value] : m.items()) {
    if (key != "content" || value.is_string() || value.is_null()) {
      out.set(key, Value::from_json(value));
      continue;
    }
    if (!value.is_array()) {
      return invalid_argument(where + ".content must be a string, null or a list of text parts");
    }
    std::string text;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const auto& part = value[i];
      const std::string part_where = where + ".content[" + std::to_string(i) + "]";
      if (!part.is_object()) return invalid_argument(part_where + " must be an object");
      auto type = part.find("type");
      if (type == part.end() || !type->is_string() || *type != "text") {
        return invalid_argument(part_where +
                                " must have \"type\": \"text\" (only text content is supported)");
      }
      auto t = part.find("text");
      if (t == part.end() || !t->is_string())
        return invalid_argument(part_where + " needs a string \"text\"");
      if (i > 0) text += "\n";
      text += t->get_ref<const std::string&>();
    }
    out.set(key, Value(std::move(text)));
  }
  return Value(std::move(out));
}

StatusOr<std::string> token_from_config(const nlohmann::ordered_json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {  // AddedToken {"content": "...", ...}
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return invalid_argument(std::string("tokenizer_config.json: \"") + key +
                          "\" must be a string, null or {\"content\": ...}");
}

}  // namespace

StatusOr<ChatTemplate> ChatTemplate::from_source(std::string source, std::string bos_token,
                                                 std::string eos_token) {
  PAGODA_ASSIGN_OR_RETURN(jinja::JinjaTemplate t, jinja::JinjaTemplate::parse(source));
  return ChatTemplate(std::move(t), std::nullopt, std::move(bos_token), std::move(eos_token));
}

StatusOr<ChatTemplate> ChatTemplate::from_tokenizer_config_json(const nlohmann::ordered_json& config) {
  if (!config.is_object()) return invalid_argument("tokenizer_config.json must hold a JSON object");
  PAGODA_ASSIGN_OR_RETURN(std::string bos, token_from_config(config, "bos_token"));
  PAGODA_ASSIGN_OR_RETURN(std::string eos, token_from_config(config, "eos_token"));
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return not_found("tokenizer_config.json has no \"chat_template\"");
  if (it->is_string()) return from_source(it->get<std::string>(), std::move(bos), std::move(eos));
  if (!it->is_array())
    return invalid_argument("\"chat_template\" must be a string or a list of {name, template}");
  std::optional<jinja::JinjaTemplate> default_template;
  std::optional<jinja::JinjaTemplate> tool_use;
  std::string names;
  for (const auto& entry : *it) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("template") || !entry["template"].is_string()) {
      return invalid_argument(
          "\"chat_template\" list entries must be {\"name\": string, \"template\": string}");
    }
    const std::string& name = entry["name"].get_ref<const std::string&>();
    names += (names.empty() ? "" : ", ") + name;
    if (name != "default" && name != "tool_use") continue;
    auto parsed = jinja::JinjaTemplate::parse(entry["template"].get_ref<const std::string&>());
    if (!parsed.ok()) return parsed.status().with_context("chat template '" + name + "'");
    (name == "default" ? default_template : tool_use) = std::move(parsed).value();
  }
  if (!default_template) {
    return invalid_argument("\"chat_template\" has no template named \"default\" (has: " + names + ")");
  }
  return ChatTemplate(std::move(*default_template), std::move(tool_use), std::move(bos), std::move(eos));
}

StatusOr<ChatTemplate> ChatTemplate::from_tokenizer_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > kMaxConfigBytes)
    return invalid_argument(path + " is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  nlohmann::ordered_json config;
  try {
    config = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(path + ": not valid JSON: " + e.what());
  }
  auto result = from_tokenizer_config_json(config);
  if (!result.ok()) return result.status().with_context(path);
  return result;
}

StatusOr<std::string> ChatTemplate::render(const nlohmann::ordered_json& messages,
                                           const nlohmann::ordered_json& tools,
                                           const ChatTemplateOptions& options) const {
  if (!messages.is_array()) return invalid_argument("messages must be an array");
  if (!tools.is_null() && !tools.is_array()) return invalid_argument("tools must be null or an array");
  if (!options.extra_context.is_null() && !options.extra_context.is_object()) {
    return invalid_argument("chat template kwargs must be an object");
  }
  PAGODA_RETURN_IF_ERROR(check_json(messages, "messages", 0));
  PAGODA_RETURN_IF_ERROR(check_json(tools, "tools", 0));
  PAGODA_RETURN_IF_ERROR(check_json(options.extra_context, "chat template kwargs", 0));
  try {
    ValueList converted;
    converted.reserve(messages.size());
    for (std::size_t i = 0; i < messages.size(); ++i) {
      PAGODA_ASSIGN_OR_RETURN(Value m, convert_message(messages[i], i));
      converted.push_back(std::move(m));
    }
    if (tools.is_array()) {
      for (std::size_t i = 0; i < tools.size(); ++i) {
        if (!tools[i].is_object())
          return invalid_argument("tools[" + std::to_string(i) + "] must be an object");
      }
    }
    // Variables in transformers' order: special tokens, then kwargs, then the named arguments.
    ValueDict context;
    if (!bos_token_.empty()) context.set("bos_token", Value(bos_token_));
    if (!eos_token_.empty()) context.set("eos_token", Value(eos_token_));
    if (options.extra_context.is_object()) {
      for (const auto& [key, value] : options.extra_context.items()) {
        if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt") {
          return invalid_argument("chat template kwargs may not set \"" + key + "\"");
        }
        context.set(key, Value::from_json(value));
      }
    }
    if (options.enable_thinking.has_value()) context.set("enable_thinking", Value(*options.enable_thinking));
    context.set("messages", Value(std::move(converted)));
    context.set("tools", Value::from_json(tools));
    context.set("documents", Value::none());
    context.set("add_generation_prompt", Value(options.add_generation_prompt));
    const jinja::JinjaTemplate& t =
        (tools.is_array() && tool_use_template_.has_value()) ? *tool_use_template_ : default_template_;
    return t.render(context);
  } catch (const jinja::JinjaError& e) {
    return resource_exhausted(std::string("chat template input: ") + e.what());
  } catch (const std::bad_alloc&) {
    return resource_exhausted("out of memory while rendering the chat template");
  }
}

}  // namespace pagoda
