#include "server/grpc_conversion.h"

#include <algorithm>
#include <span>

#include "server/request_validation.h"

namespace pagoda::server {

grpc::Status to_grpc_status(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())), status.message());
}

std::string grpc_code_name(grpc::StatusCode code) {
  return std::string(status_code_name(static_cast<StatusCode>(static_cast<int>(code))));
}

StatusOr<ChatPromptInput> chat_input_from_proto(const v1::ChatInput& chat, const RequestLimits& limits) {
  ChatPromptInput in;
  for (const v1::ChatMessage& m : chat.messages()) {
    PAGODA_RETURN_IF_ERROR(validate_chat_role(m.role(), "chat.messages"));
    nlohmann::ordered_json j = {{"role", m.role()}, {"content", m.content()}};
    if (!m.reasoning_content().empty()) j["reasoning_content"] = m.reasoning_content();
    if (!m.name().empty()) j["name"] = m.name();
    if (!m.tool_call_id().empty()) j["tool_call_id"] = m.tool_call_id();
    if (m.tool_calls_size() > 0) {
      nlohmann::ordered_json calls = nlohmann::ordered_json::array();
      for (const v1::ChatToolCall& c : m.tool_calls()) {
        PAGODA_RETURN_IF_ERROR(
            validate_json_depth(c.arguments(), "chat.messages.tool_calls.arguments", limits.max_json_depth));
        nlohmann::ordered_json args = nlohmann::ordered_json::parse(c.arguments(), nullptr, false);
        if (args.is_discarded()) args = c.arguments();
        calls.push_back(
            {{"id", c.id()}, {"type", "function"}, {"function", {{"name", c.name()}, {"arguments", args}}}});
      }
      j["tool_calls"] = std::move(calls);
    }
    in.messages.push_back(std::move(j));
  }
  if (chat.tools_size() > 0) {
    in.tools = nlohmann::ordered_json::array();
    for (const v1::Tool& t : chat.tools()) {
      if (t.name().empty()) return invalid_argument("chat.tools: every tool needs a name");
      nlohmann::ordered_json params = nlohmann::ordered_json::object();
      if (!t.parameters_json().empty()) {
        PAGODA_RETURN_IF_ERROR(
            validate_json_depth(t.parameters_json(), "chat.tools.parameters_json", limits.max_json_depth));
        params = nlohmann::ordered_json::parse(t.parameters_json(), nullptr, false);
        if (params.is_discarded() || !params.is_object()) {
          return invalid_argument("chat.tools: parameters_json of \"" + t.name() + "\" is not a JSON object");
        }
      }
      in.tools.push_back(
          {{"type", "function"},
           {"function", {{"name", t.name()}, {"description", t.description()}, {"parameters", params}}}});
    }
  }
  if (chat.has_enable_thinking()) in.enable_thinking = chat.enable_thinking();
  return in;
}

StatusOr<GrpcGeneration> parse_generate_request(const ServingContext& ctx, const v1::GenerateRequest& request,
                                                const std::string& tenant) {
  const RequestLimits& limits = ctx.limits();
  const Engine& engine = ctx.engine();
  GrpcGeneration g;
  g.spec.tenant = tenant;
  if (static_cast<std::int64_t>(request.request_id().size()) > limits.max_request_id_bytes) {
    return invalid_argument("request_id: at most " + std::to_string(limits.max_request_id_bytes) + " bytes");
  }
  PAGODA_RETURN_IF_ERROR(validate_text(request.request_id(), "request_id", limits.max_request_id_bytes));

  Prompt prompt;
  switch (request.input_case()) {
    case v1::GenerateRequest::kText: {
      PAGODA_ASSIGN_OR_RETURN(prompt, build_text_prompt(ctx, request.text(), "text"));
      break;
    }
    case v1::GenerateRequest::kTokenIds: {
      std::vector<std::int32_t> ids(request.token_ids().ids().begin(), request.token_ids().ids().end());
      PAGODA_ASSIGN_OR_RETURN(prompt, build_token_prompt(ctx, std::move(ids), "token_ids"));
      break;
    }
    case v1::GenerateRequest::kChat: {
      PAGODA_ASSIGN_OR_RETURN(ChatPromptInput in, chat_input_from_proto(request.chat(), ctx.limits()));
      PAGODA_ASSIGN_OR_RETURN(prompt, build_chat_prompt(ctx, in));
      g.chat = true;
      g.parse_tools = request.chat().tools_size() > 0;
      g.starts_in_reasoning = prompt.starts_in_reasoning;
      break;
    }
    default:
      return invalid_argument("input: one of text, token_ids or chat is required");
  }

  const v1::SamplingParameters& p = request.sampling();
  SamplingParams s = engine.model_config().generation.sampling();
  if (p.has_temperature()) s.temperature = p.temperature();
  if (p.has_top_p()) s.top_p = p.top_p();
  if (p.has_top_k()) s.top_k = p.top_k();
  if (p.has_min_p()) s.min_p = p.min_p();
  if (p.has_repetition_penalty()) s.repetition_penalty = p.repetition_penalty();
  s.presence_penalty = p.presence_penalty();
  s.frequency_penalty = p.frequency_penalty();
  if (p.logit_bias_size() > limits.max_logit_bias) {
    return invalid_argument("logit_bias: at most " + std::to_string(limits.max_logit_bias) + " entries");
  }
  for (const auto& [id, bias] : p.logit_bias())
    s.logit_bias.emplace_back(id, bias);
  std::sort(s.logit_bias.begin(), s.logit_bias.end());
  if (p.has_seed()) s.seed = p.seed();
  s.min_tokens = p.min_tokens();
  s.ignore_eos = p.ignore_eos();
  s.stop_token_ids.assign(p.stop_token_ids().begin(), p.stop_token_ids().end());
  s.stop.assign(p.stop().begin(), p.stop().end());
  if (p.has_skip_special_tokens()) s.skip_special_tokens = p.skip_special_tokens();
  if (request.has_logprobs()) {
    if (request.logprobs() < 0 || request.logprobs() > SamplingParams::kMaxTopLogprobs) {
      return invalid_argument("logprobs: must be in [0, 20]");
    }
    s.logprobs = request.logprobs();
    g.want_logprobs = true;
  }
  std::optional<std::int64_t> max_tokens;
  if (p.has_max_tokens()) max_tokens = p.max_tokens();
  PAGODA_ASSIGN_OR_RETURN(
      s.max_tokens,
      resolve_max_tokens(max_tokens, static_cast<std::int32_t>(prompt.ids.size()), engine.max_model_len()));
  PAGODA_RETURN_IF_ERROR(validate_sampling(s, limits, engine.model_config().vocab_size));
  std::int64_t n = request.n() == 0 ? 1 : request.n();
  PAGODA_RETURN_IF_ERROR(validate_n(n, limits));
  if (request.has_ttft_deadline_ms() &&
      !(request.ttft_deadline_ms() > 0.0 && request.ttft_deadline_ms() < 1e9)) {
    return invalid_argument("ttft_deadline_ms: must be positive");
  }
  g.spec.prompt_ids = std::move(prompt.ids);
  g.spec.sampling = std::move(s);
  g.spec.n = static_cast<std::int32_t>(n);
  g.spec.priority = request.priority();
  if (request.has_ttft_deadline_ms()) g.spec.ttft_deadline_ms = request.ttft_deadline_ms();
  return g;
}

Status tokenize(const ServingContext& ctx, const v1::TokenizeRequest& request,
                v1::TokenizeResponse* response) {
  std::vector<std::int32_t> ids;
  switch (request.input_case()) {
    case v1::TokenizeRequest::kText:
      PAGODA_RETURN_IF_ERROR(validate_text(request.text(), "text", ctx.limits().max_prompt_bytes));
      ids = ctx.tokenizer().encode(request.text(), request.parse_special());
      break;
    case v1::TokenizeRequest::kChat: {
      PAGODA_ASSIGN_OR_RETURN(ChatPromptInput in, chat_input_from_proto(request.chat(), ctx.limits()));
      PAGODA_ASSIGN_OR_RETURN(Prompt p, build_chat_prompt(ctx, in));
      ids = std::move(p.ids);
      break;
    }
    default:
      return invalid_argument("input: one of text or chat is required");
  }
  for (std::int32_t id : ids) {
    response->add_ids(id);
    if (request.return_tokens()) response->add_tokens(std::string(ctx.tokenizer().id_to_token(id)));
  }
  response->set_count(static_cast<std::int32_t>(ids.size()));
  response->set_max_model_len(ctx.engine().max_model_len());
  return ok_status();
}

Status detokenize(const ServingContext& ctx, const v1::DetokenizeRequest& request,
                  v1::DetokenizeResponse* response) {
  if (request.ids_size() > ctx.limits().max_detokenize_ids) return invalid_argument("ids: too many ids");
  std::int32_t vocab = ctx.engine().model_config().vocab_size;
  for (std::int32_t id : request.ids()) {
    if (id < 0 || id >= vocab) {
      return invalid_argument("ids: token id " + std::to_string(id) + " is not in [0, " +
                              std::to_string(vocab) + ")");
    }
  }
  std::span<const std::int32_t> ids(request.ids().data(), static_cast<std::size_t>(request.ids_size()));
  response->set_text(ctx.tokenizer().decode(ids, request.skip_special_tokens()));
  return ok_status();
}

v1::FinishReason to_proto_finish_reason(FinishReason reason, bool tool_calls) {
  switch (reason) {
    case FinishReason::kStop:
      return tool_calls ? v1::FINISH_REASON_TOOL_CALLS : v1::FINISH_REASON_STOP;
    case FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case FinishReason::kAbort:
      return v1::FINISH_REASON_ABORT;
    case FinishReason::kError:
      return v1::FINISH_REASON_ERROR;
    case FinishReason::kDeadline:
      return v1::FINISH_REASON_DEADLINE;
    case FinishReason::kNone:
      break;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

ProtoChoiceStream::ProtoChoiceStream(const ServingContext& ctx, const GrpcGeneration& generation, int index,
                                     const std::string& request_id)
    : ctx_(ctx), index_(index), request_id_(request_id), want_logprobs_(generation.want_logprobs) {
  if (generation.chat) {
    parser_.emplace(/*parse_reasoning=*/true, generation.starts_in_reasoning, generation.parse_tools,
                    "call_" + request_id + "_" + std::to_string(index) + "_");
  }
}

bool ProtoChoiceStream::on_event(const StreamEvent& event, v1::GenerateResponse* out) {
  out->set_request_id(request_id_);
  out->set_index(index_);
  for (std::int32_t id : event.token_ids)
    out->add_token_ids(id);
  ChatDelta delta;
  if (parser_) {
    delta = parser_->push(event.text);
    if (event.finished) {
      ChatDelta tail = parser_->finish();
      delta.reasoning += tail.reasoning;
      delta.content += tail.content;
      for (ToolCall& c : tail.calls)
        delta.calls.push_back(std::move(c));
    }
  } else {
    delta.content = event.text;
  }
  out->set_text(std::move(delta.content));
  out->set_reasoning(std::move(delta.reasoning));
  for (std::size_t k = 0; k < delta.calls.size(); ++k) {
    ToolCall& c = delta.calls[k];
    v1::ToolCallDelta* t = out->add_tool_calls();
    t->set_index(static_cast<std::int32_t>(parser_->num_calls() - delta.calls.size() + k));
    t->set_id(std::move(c.id));
    t->set_name(std::move(c.name));
    t->set_arguments(std::move(c.arguments));
  }
  if (want_logprobs_) {
    const Tokenizer& tok = ctx_.tokenizer();
    for (const TokenLogprobs& lp : event.logprobs) {
      v1::TokenLogprobs* l = out->add_logprobs();
      l->set_token_id(lp.token_id);
      l->set_logprob(lp.logprob);
      l->set_token(tok.decode(std::span<const std::int32_t>(&lp.token_id, 1)));
      for (const TokenLogprob& top : lp.top) {
        v1::TopLogprob* t = l->add_top();
        t->set_token_id(top.token_id);
        t->set_logprob(top.logprob);
        t->set_token(tok.decode(std::span<const std::int32_t>(&top.token_id, 1)));
      }
    }
  }
  if (event.finished) {
    v1::FinalInfo* f = out->mutable_final();
    bool called = parser_ && parser_->num_calls() > 0;
    f->set_finish_reason(to_proto_finish_reason(event.finish_reason, called));
    f->set_matched_stop(event.matched_stop);
    f->set_matched_stop_token(event.matched_stop_token);
    v1::Usage* u = f->mutable_usage();
    u->set_prompt_tokens(event.usage.prompt_tokens);
    u->set_completion_tokens(event.usage.completion_tokens);
    u->set_total_tokens(event.usage.prompt_tokens + event.usage.completion_tokens);
    u->set_cached_prompt_tokens(event.usage.cached_prompt_tokens);
    v1::Timings* t = f->mutable_timings();
    t->set_queue_ms(event.timings.queue_ms);
    t->set_time_to_first_token_ms(event.timings.time_to_first_token_ms);
    t->set_e2e_ms(event.timings.e2e_ms);
    if (!event.error.ok()) f->set_error(event.error.message());
    return true;
  }
  return out->token_ids_size() > 0 || !out->text().empty() || !out->reasoning().empty() ||
         out->tool_calls_size() > 0;
}

}  // namespace pagoda::server
