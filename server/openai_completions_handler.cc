#include "server/openai_completions_handler.h"

#include <vector>

#include "server/openai_job.h"
#include "server/openai_request.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

class CompletionJob final : public OpenAiJob {
 public:
  CompletionJob(ServingContext* ctx, std::shared_ptr<HttpExchange> exchange, std::string tenant)
      : OpenAiJob(ctx, std::move(exchange), std::move(tenant), "cmpl-") {}

 private:
  struct Choice {
    std::string text;
    Json tokens = Json::array();
    Json token_logprobs = Json::array();
    Json top_logprobs = Json::array();
    Json text_offset = Json::array();
    std::string finish_reason;
    std::string stop_reason;
    std::size_t offset = 0;
  };

  const char* stream_chunk_object() const override { return "text_completion"; }
  Status prepare(const Json& body) override;
  void on_event(int choice, const StreamEvent& event) override;
  Json final_response() override;
  Json logprobs_of(const StreamEvent& e, Choice& c) const;

  bool logprobs_ = false;
  std::vector<Choice> choices_;
};

Status CompletionJob::prepare(const Json& body) {
  PAGODA_ASSIGN_OR_RETURN(CompletionRequest request, parse_completion_request(body, *ctx_));
  for (GenerationSpec& spec : request.specs) {
    spec.tenant = tenant_;
    specs_.push_back(std::move(spec));
  }
  const OpenAiParams& p = request.params;
  n_ = p.n;
  stream_ = p.stream;
  include_usage_ = p.include_usage;
  logprobs_ = p.logprobs;
  choices_.resize(specs_.size() * static_cast<std::size_t>(n_));
  return ok_status();
}

Json CompletionJob::logprobs_of(const StreamEvent& e, Choice& c) const {
  Json out = {{"tokens", Json::array()},
              {"token_logprobs", Json::array()},
              {"top_logprobs", Json::array()},
              {"text_offset", Json::array()}};
  for (const TokenLogprobs& lp : e.logprobs) {
    std::string text = token_text(lp.token_id);
    Json top = Json::object();
    for (const TokenLogprob& t : lp.top)
      top[token_text(t.token_id)] = t.logprob;
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(lp.logprob);
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(c.offset);
    c.offset += text.size();
  }
  return out;
}

void CompletionJob::on_event(int index, const StreamEvent& e) {
  Choice& c = choices_[static_cast<std::size_t>(index)];
  Json lp = logprobs_ ? logprobs_of(e, c) : Json();
  if (e.finished) {
    c.finish_reason = finish_reason_string(e.finish_reason, false);
    c.stop_reason = e.matched_stop;
  }
  if (stream_) {
    if (e.text.empty() && !e.finished && (!logprobs_ || e.logprobs.empty())) return;
    Json choice = {{"index", index},
                   {"text", e.text},
                   {"logprobs", lp},
                   {"finish_reason", e.finished ? Json(c.finish_reason) : Json()}};
    Json chunk = {{"id", id_},
                  {"object", "text_completion"},
                  {"created", created_},
                  {"model", ctx_->model_name()},
                  {"choices", Json::array({std::move(choice)})}};
    if (include_usage_) chunk["usage"] = nullptr;
    send_chunk(chunk);
    return;
  }
  c.text += e.text;
  if (logprobs_) {
    for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
      for (Json& v : lp[key])
        (key == std::string_view("tokens")           ? c.tokens
         : key == std::string_view("token_logprobs") ? c.token_logprobs
         : key == std::string_view("top_logprobs")   ? c.top_logprobs
                                                     : c.text_offset)
            .push_back(std::move(v));
    }
  }
}

Json CompletionJob::final_response() {
  Json choices = Json::array();
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    Json lp;
    if (logprobs_) {
      lp = {{"tokens", c.tokens},
            {"token_logprobs", c.token_logprobs},
            {"top_logprobs", c.top_logprobs},
            {"text_offset", c.text_offset}};
    }
    choices.push_back({{"index", i},
                       {"text", c.text},
                       {"logprobs", lp},
                       {"finish_reason", c.finish_reason},
                       {"stop_reason", c.stop_reason.empty() ? Json() : Json(c.stop_reason)}});
  }
  return response_json("text_completion", std::move(choices));
}

}  // namespace

void start_completion(ServingContext* ctx, const std::shared_ptr<HttpExchange>& exchange,
                      const std::string& tenant, const Json& body) {
  auto job = std::make_shared<CompletionJob>(ctx, exchange, tenant);
  job->start(body);
}

}  // namespace pagoda::server
