#include "server/openai_chat_handler.h"

#include <optional>
#include <vector>

#include "server/chat_output_parser.h"
#include "server/openai_job.h"
#include "server/openai_request.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

class ChatCompletionJob final : public OpenAiJob {
 public:
  ChatCompletionJob(ServingContext* ctx, std::shared_ptr<HttpExchange> exchange, std::string tenant)
      : OpenAiJob(ctx, std::move(exchange), std::move(tenant), "chatcmpl-") {}

 private:
  struct Choice {
    std::optional<ChatOutputParser> parser;
    bool role_sent = false;
    std::string content;
    std::string reasoning;
    Json tool_calls = Json::array();
    Json logprobs = Json::array();
    std::string finish_reason;
    std::string stop_reason;
  };

  const char* stream_chunk_object() const override { return "chat.completion.chunk"; }
  Status prepare(const Json& body) override;
  void on_event(int choice, const StreamEvent& event) override;
  Json final_response() override;

  Json logprobs_json(const StreamEvent& event) const;
  Json chunk(int index, Json delta, const Json& logprobs, const Json& finish_reason) const;

  bool logprobs_ = false;
  bool parse_tools_ = false;
  bool starts_in_reasoning_ = false;
  std::vector<Choice> choices_;
};

Status ChatCompletionJob::prepare(const Json& body) {
  PAGODA_ASSIGN_OR_RETURN(ChatCompletionRequest request, parse_chat_completion_request(body, *ctx_));
  parse_tools_ = request.parse_tools;
  starts_in_reasoning_ = request.starts_in_reasoning;
  const OpenAiParams& p = request.params;
  n_ = p.n;
  stream_ = p.stream;
  include_usage_ = p.include_usage;
  logprobs_ = p.logprobs;
  request.spec.tenant = tenant_;
  specs_.push_back(std::move(request.spec));
  choices_.resize(static_cast<std::size_t>(n_));
  for (int i = 0; i < n_; ++i) {
    choices_[static_cast<std::size_t>(i)].parser.emplace(
        /*parse_reasoning=*/true, starts_in_reasoning_, parse_tools_,
        "call_" + id_.substr(9) + "_" + std::to_string(i) + "_");
  }
  return ok_status();
}

Json ChatCompletionJob::logprobs_json(const StreamEvent& e) const {
  Json content = Json::array();
  for (const TokenLogprobs& lp : e.logprobs) {
    Json top = Json::array();
    for (const TokenLogprob& t : lp.top) {
      top.push_back(
          {{"token", token_text(t.token_id)}, {"logprob", t.logprob}, {"bytes", token_bytes(t.token_id)}});
    }
    content.push_back({{"token", token_text(lp.token_id)},
                       {"logprob", lp.logprob},
                       {"bytes", token_bytes(lp.token_id)},
                       {"top_logprobs", std::move(top)}});
  }
  return content;
}

Json ChatCompletionJob::chunk(int index, Json delta, const Json& logprobs, const Json& finish_reason) const {
  Json choice = {{"index", index},
                 {"delta", std::move(delta)},
                 {"logprobs", logprobs},
                 {"finish_reason", finish_reason}};
  Json c = {{"id", id_},
            {"object", "chat.completion.chunk"},
            {"created", created_},
            {"model", ctx_->model_name()},
            {"choices", Json::array({std::move(choice)})}};
  if (include_usage_) c["usage"] = nullptr;
  return c;
}

void ChatCompletionJob::on_event(int index, const StreamEvent& e) {
  Choice& c = choices_[static_cast<std::size_t>(index)];
  ChatDelta d = c.parser->push(e.text);
  if (e.finished) {
    ChatDelta tail = c.parser->finish();
    d.reasoning += tail.reasoning;
    d.content += tail.content;
    for (ToolCall& call : tail.calls)
      d.calls.push_back(std::move(call));
  }
  std::size_t first_call = c.parser->num_calls() - d.calls.size();
  Json calls = Json::array();
  for (std::size_t k = 0; k < d.calls.size(); ++k) {
    ToolCall& call = d.calls[k];
    calls.push_back(
        {{"index", first_call + k},
         {"id", std::move(call.id)},
         {"type", "function"},
         {"function", {{"name", std::move(call.name)}, {"arguments", std::move(call.arguments)}}}});
  }
  Json lp = logprobs_ ? logprobs_json(e) : Json();
  if (e.finished) {
    c.finish_reason = finish_reason_string(e.finish_reason, c.parser->num_calls() > 0);
    c.stop_reason = e.matched_stop;
  }
  if (stream_) {
    if (!c.role_sent) {
      c.role_sent = true;
      send_chunk(chunk(index, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
    }
    Json delta = Json::object();
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty()) delta["content"] = d.content;
    if (!calls.empty()) delta["tool_calls"] = calls;
    bool has_logprobs = logprobs_ && !e.logprobs.empty();
    if (!delta.empty() || has_logprobs) {
      send_chunk(chunk(index, std::move(delta), has_logprobs ? Json{{"content", lp}} : Json(), nullptr));
    }
    if (e.finished) send_chunk(chunk(index, Json::object(), nullptr, c.finish_reason));
    return;
  }
  c.reasoning += d.reasoning;
  c.content += d.content;
  for (Json& call : calls) {
    call.erase("index");
    c.tool_calls.push_back(std::move(call));
  }
  if (logprobs_) {
    for (Json& item : lp)
      c.logprobs.push_back(std::move(item));
  }
}

Json ChatCompletionJob::final_response() {
  Json choices = Json::array();
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    Json message = {{"role", "assistant"}};
    message["content"] = c.content.empty() && !c.tool_calls.empty() ? Json() : Json(c.content);
    if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;
    if (!c.tool_calls.empty()) message["tool_calls"] = c.tool_calls;
    choices.push_back({{"index", i},
                       {"message", std::move(message)},
                       {"logprobs", logprobs_ ? Json{{"content", c.logprobs}} : Json()},
                       {"finish_reason", c.finish_reason},
                       {"stop_reason", c.stop_reason.empty() ? Json() : Json(c.stop_reason)}});
  }
  return response_json("chat.completion", std::move(choices));
}

}  // namespace

void start_chat_completion(ServingContext* ctx, const std::shared_ptr<HttpExchange>& exchange,
                           const std::string& tenant, const Json& body) {
  auto job = std::make_shared<ChatCompletionJob>(ctx, exchange, tenant);
  job->start(body);
}

}  // namespace pagoda::server
