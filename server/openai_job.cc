#include "server/openai_job.h"

#include <ctime>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>

#include "server/http_errors.h"
#include "server/http_router.h"

namespace pagoda::server {

using Json = nlohmann::ordered_json;

namespace {

// A non-streamed job's events not yet handed to its I/O thread, in arrival
// order: (choice, event). Filled on the engine's output thread.
struct HeldEvents {
  std::mutex mu;
  std::vector<std::pair<int, StreamEvent>> events;
};

}  // namespace

OpenAiJob::OpenAiJob(ServingContext* ctx, std::shared_ptr<HttpExchange> exchange, std::string tenant,
                     const char* id_prefix)
    : ctx_(ctx),
      ex_(std::move(exchange)),
      tenant_(std::move(tenant)),
      id_(ctx->next_request_id(id_prefix)),
      created_(static_cast<std::int64_t>(std::time(nullptr))) {}

OpenAiJob::~OpenAiJob() = default;

void OpenAiJob::start(const Json& body) {
  ex_->access().request_id = id_;
  Status s = prepare(body);
  if (!s.ok()) return respond_error(*ex_, s);
  for (const GenerationSpec& spec : specs_)
    prompt_tokens_ += static_cast<std::int64_t>(spec.prompt_ids.size());
  metrics_.resize(specs_.size() * static_cast<std::size_t>(n_));

  std::weak_ptr<OpenAiJob> weak = weak_from_this();
  auto executor = ex_->executor();
  for (std::size_t k = 0; k < specs_.size(); ++k) {
    int base = static_cast<int>(k) * n_;
    std::shared_ptr<OpenAiJob> self = shared_from_this();
    ChoiceCallback callback;
    if (stream_) {
      callback = [self, executor, base](int choice, StreamEvent e) {
        boost::asio::post(executor, [self, c = base + choice, e = std::move(e)]() mutable {
          self->deliver(c, std::move(e));
        });
      };
    } else {
      // Nothing reaches a non-streamed client before the end, so the events
      // wait here and go to the I/O thread once per finished choice rather
      // than waking it for every token (metrics use the events' own times).
      auto held = std::make_shared<HeldEvents>();
      callback = [self, executor, base, held](int choice, StreamEvent e) {
        std::vector<std::pair<int, StreamEvent>> batch;
        {
          std::lock_guard lock(held->mu);
          const bool finished = e.finished;
          held->events.emplace_back(base + choice, std::move(e));
          if (!finished) return;
          batch.swap(held->events);
        }
        boost::asio::post(executor, [self, batch = std::move(batch)]() mutable {
          for (auto& [c, event] : batch)
            self->deliver(c, std::move(event));
        });
      };
    }
    Submission sub = submit_choices(*ctx_, specs_[k], callback);
    engine_ids_.insert(engine_ids_.end(), sub.engine_ids.begin(), sub.engine_ids.end());
    if (!sub.status.ok()) {
      error_ = sub.status;
      break;
    }
  }
  if (!error_.ok()) {
    cancel_all();
    if (engine_ids_.empty()) {
      completed_ = true;
      return respond_error(*ex_, error_);
    }
    return;  // the error is sent once the accepted choices have ended
  }
  ex_->on_disconnect([weak] {
    if (auto self = weak.lock()) {
      self->cancelled_ = true;
      self->cancel_all();
    }
  });
  if (stream_) ex_->start_sse();
}

void OpenAiJob::cancel_all() {
  for (RequestId id : engine_ids_)
    ctx_->engine().cancel(id);
}

void OpenAiJob::deliver(int choice, StreamEvent e) {
  metrics_[static_cast<std::size_t>(choice)].on_event(e, tenant_, ctx_->metrics());
  if (e.finished) {
    ++num_finished_;
    completion_tokens_ += e.usage.completion_tokens;
    last_finish_reason_ = std::string(finish_reason_name(e.finish_reason));
    if (e.finish_reason == FinishReason::kError && error_.ok()) {
      error_ = internal_error(e.error.ok() ? "the model step failed" : e.error.message());
    } else if (e.finish_reason == FinishReason::kDeadline && error_.ok()) {
      error_ = Status(StatusCode::kDeadlineExceeded, "the request's deadline could not be met");
    }
    if (choice % n_ == 0) cached_tokens_ += e.usage.cached_prompt_tokens;
  }
  if (error_.ok() && !cancelled_ && !ex_->disconnected()) on_event(choice, e);
  if (num_finished_ == engine_ids_.size()) complete();
}

void OpenAiJob::complete() {
  if (completed_) return;
  completed_ = true;
  AccessRecord& a = ex_->access();
  a.prompt_tokens = prompt_tokens_;
  a.completion_tokens = completion_tokens_;
  a.finish_reason = last_finish_reason_;
  if (cancelled_ || ex_->disconnected()) {
    // Nobody is listening; end the exchange so the session can clean up.
    if (stream_) return ex_->end_sse();
    return ex_->respond(499, openai_error_body(499, "the client disconnected"));
  }
  if (stream_) {
    if (!error_.ok()) {
      unsigned code = http_status_of(error_.code());
      a.error = error_.message();
      ex_->send_sse(openai_error_body(code, error_.message()));
    } else if (include_usage_) {
      Json chunk = {{"id", id_},
                    {"object", stream_chunk_object()},
                    {"created", created_},
                    {"model", ctx_->model_name()},
                    {"choices", Json::array()},
                    {"usage", usage_json()}};
      send_chunk(chunk);
    }
    ex_->send_sse("[DONE]");
    return ex_->end_sse();
  }
  if (!error_.ok()) return respond_error(*ex_, error_);
  ex_->respond(200, final_response().dump(-1, ' ', false, Json::error_handler_t::replace));
}

void OpenAiJob::send_chunk(const Json& chunk) {
  ex_->send_sse(chunk.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Json OpenAiJob::response_json(const char* object, Json choices) const {
  return {{"id", id_},
          {"object", object},
          {"created", created_},
          {"model", ctx_->model_name()},
          {"choices", std::move(choices)},
          {"usage", usage_json()}};
}

Json OpenAiJob::usage_json() const {
  return {{"prompt_tokens", prompt_tokens_},
          {"completion_tokens", completion_tokens_},
          {"total_tokens", prompt_tokens_ + completion_tokens_},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens_}}}};
}

const char* OpenAiJob::finish_reason_string(FinishReason reason, bool tool_calls) {
  if (reason == FinishReason::kStop && tool_calls) return "tool_calls";
  if (reason == FinishReason::kNone) return "stop";
  return finish_reason_name(reason).data();  // names are NUL-terminated literals
}

std::string OpenAiJob::token_text(std::int32_t id) const {
  return ctx_->tokenizer().decode(std::span<const std::int32_t>(&id, 1));
}

Json OpenAiJob::token_bytes(std::int32_t id) const {
  Json bytes = Json::array();
  for (char c : ctx_->tokenizer().token_bytes(id))
    bytes.push_back(static_cast<int>(static_cast<unsigned char>(c)));
  return bytes;
}

}  // namespace pagoda::server
