#include "server/openai_completions_handler.h"

#include <vector>

#include "server/openai_job.h"
#include "server/openai_request.h"
#include "server/prompt_builder.h"
#include "server/request_validation.h"

namespace pagoda::server {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxPrompts = 64;

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
  StatusOr<std::vector<Prompt>> parse_prompts(const Json& body) const;
  Json logprobs_of(const StreamEvent& e, Choice& c) const;

  bool logprobs_ = false;
  std::vector<Choice> choices_;
};

StatusOr<std::vector<Prompt>> CompletionJob::parse_prompts(const Json& body) const {
  if (!body.contains("prompt") || body["prompt"].is_null()) return invalid_argument("prompt: required");
  const Json& prompt = body["prompt"];
  std::vector<Prompt> out;
  auto ids_of = [&](const Json& list) -> StatusOr<Prompt> {
    std::vector<std::int32_t> ids;
    ids.reserve(list.size());
    for (const Json& id : list) {
      if (!id.is_number_integer()) return invalid_argument("prompt: token ids must be integers");
      std::int64_t v = id.get<std::int64_t>();
      if (v < 0 || v > INT32_MAX)
        return invalid_argument("prompt: token id " + std::to_string(v) + " is out of range");
      ids.push_back(static_cast<std::int32_t>(v));
    }
    return build_token_prompt(*ctx_, std::move(ids), "prompt");
  };
  if (prompt.is_string()) {
    PAGODA_ASSIGN_OR_RETURN(Prompt p,
                            build_text_prompt(*ctx_, prompt.get_ref<const std::string&>(), "prompt"));
    out.push_back(std::move(p));
    return out;
  }
  if (!prompt.is_array() || prompt.empty()) {
    return invalid_argument(
        "prompt: must be a string, an array of strings, token ids, or arrays of token ids");
  }
  if (prompt[0].is_number()) {
    PAGODA_ASSIGN_OR_RETURN(Prompt p, ids_of(prompt));
    out.push_back(std::move(p));
    return out;
  }
  if (prompt.size() > kMaxPrompts)
    return invalid_argument("prompt: at most " + std::to_string(kMaxPrompts) + " prompts");
  for (const Json& item : prompt) {
    if (item.is_string()) {
      PAGODA_ASSIGN_OR_RETURN(Prompt p,
                              build_text_prompt(*ctx_, item.get_ref<const std::string&>(), "prompt"));
      out.push_back(std::move(p));
    } else if (item.is_array()) {
      PAGODA_ASSIGN_OR_RETURN(Prompt p, ids_of(item));
      out.push_back(std::move(p));
    } else {
      return invalid_argument(
          "prompt: must be a string, an array of strings, token ids, or arrays of token ids");
    }
  }
  return out;
}

Status CompletionJob::prepare(const Json& body) {
  bool echo = false;
  PAGODA_RETURN_IF_ERROR(get_bool(body, "echo", &echo));
  if (echo) return invalid_argument("echo: not supported");
  if (body.contains("suffix") && !body["suffix"].is_null()) return invalid_argument("suffix: not supported");
  PAGODA_ASSIGN_OR_RETURN(std::vector<Prompt> prompts, parse_prompts(body));
  PAGODA_ASSIGN_OR_RETURN(OpenAiParams p, parse_openai_params(body, *ctx_, /*chat=*/false));
  if (!p.max_tokens) p.max_tokens = 16;  // the completions API's default
  if (prompts.size() * static_cast<std::size_t>(p.n) > static_cast<std::size_t>(ctx_->limits().max_n) * 4) {
    return invalid_argument("n: too many choices for this many prompts");
  }
  for (Prompt& prompt : prompts) {
    GenerationSpec spec;
    spec.sampling = p.sampling;
    PAGODA_ASSIGN_OR_RETURN(spec.sampling.max_tokens,
                            resolve_max_tokens(p.max_tokens, static_cast<std::int32_t>(prompt.ids.size()),
                                               ctx_->engine().max_model_len()));
    PAGODA_RETURN_IF_ERROR(
        validate_sampling(spec.sampling, ctx_->limits(), ctx_->engine().model_config().vocab_size));
    spec.prompt_ids = std::move(prompt.ids);
    spec.n = p.n;
    spec.priority = p.priority;
    spec.tenant = tenant_;
    specs_.push_back(std::move(spec));
  }
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
