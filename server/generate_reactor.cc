#include "server/generate_reactor.h"

#include "server/logging.h"

namespace pagoda::server {
namespace {

// The call's status when an engine request ended this way (OK for normal ends).
Status status_of_final(const StreamEvent& e) {
  switch (e.finish_reason) {
    case FinishReason::kError:
      return internal_error(e.error.ok() ? "the model step failed" : e.error.message());
    case FinishReason::kDeadline:
      return {StatusCode::kDeadlineExceeded, "ttft_deadline_ms could not be met"};
    case FinishReason::kAbort:
      return {StatusCode::kCancelled, "the request was aborted"};
    default:
      return ok_status();
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// GenerationCall

GenerationCall::GenerationCall(ServingContext* ctx, grpc::CallbackServerContext* call, std::string tenant,
                               const char* route)
    : ctx_(ctx),
      call_(call),
      tenant_(std::move(tenant)),
      route_(route),
      start_(std::chrono::steady_clock::now()),
      guard_(ctx) {}

GenerationCall::~GenerationCall() {
  if (registered_) ctx_->registry().release(request_id_, tenant_);
}

void GenerationCall::submit(const v1::GenerateRequest& request) {
  Status s = submit_choices_of(request);
  std::lock_guard lock(mu_);
  if (!s.ok() && engine_ids_.empty()) {
    submitted_ = true;  // nothing to wait for
    if (error_.ok()) error_ = s;
  }
}

Status GenerationCall::submit_choices_of(const v1::GenerateRequest& request) {
  PAGODA_RETURN_IF_ERROR(ctx_->check_ready());
  PAGODA_ASSIGN_OR_RETURN(generation_, parse_generate_request(*ctx_, request, tenant_));
  request_id_ = request.request_id().empty() ? ctx_->next_request_id("gen-") : request.request_id();
  PAGODA_RETURN_IF_ERROR(ctx_->registry().reserve(request_id_, tenant_));
  registered_ = true;
  for (int i = 0; i < generation_.spec.n; ++i)
    choices_.push_back(std::make_unique<ProtoChoiceStream>(*ctx_, generation_, i, request_id_));
  prompt_tokens_ = static_cast<std::int64_t>(generation_.spec.prompt_ids.size());
  Submission sub = submit_choices(
      *ctx_, generation_.spec, [this](int choice, StreamEvent e) { on_choice_event(choice, std::move(e)); });
  ctx_->registry().set_engine_ids(request_id_, tenant_, sub.engine_ids);
  bool cancelled;
  {
    std::lock_guard lock(mu_);
    engine_ids_ = sub.engine_ids;
    submitted_ = true;
    if (!sub.status.ok() && error_.ok()) error_ = sub.status;
    cancelled = cancelled_;
  }
  if (cancelled) cancel_all();
  return sub.status;
}

void GenerationCall::cancel_all() {
  std::vector<RequestId> ids;
  {
    std::lock_guard lock(mu_);
    ids = engine_ids_;
  }
  for (RequestId id : ids)
    ctx_->engine().cancel(id);
}

void GenerationCall::conclude(const grpc::Status& status) {
  // Released before Finish: once the client sees the status, Abort(request_id) must answer NOT_FOUND.
  if (registered_) ctx_->registry().release(request_id_, tenant_);
  registered_ = false;
  AccessRecord r;
  r.api = "grpc";
  r.route = route_;
  r.request_id = request_id_;
  r.tenant = tenant_;
  r.peer = call_->peer();
  r.grpc_code = grpc_code_name(status.error_code());
  r.finish_reason = finish_reason_;
  r.prompt_tokens = prompt_tokens_;
  r.completion_tokens = completion_tokens_;
  r.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  if (!status.ok()) r.error = status.error_message();
  log_access(r);
  if (ctx_->metrics() != nullptr) ctx_->metrics()->count_call("grpc", route_, r.grpc_code, tenant_);
}

// ---------------------------------------------------------------------------
// GenerateReactor

GenerateReactor::GenerateReactor(ServingContext* ctx, grpc::CallbackServerContext* call, std::string tenant)
    : GenerationCall(ctx, call, std::move(tenant), "Generate") {}

GenerateReactor* GenerateReactor::start(ServingContext* ctx, grpc::CallbackServerContext* call,
                                        const v1::GenerateRequest* request, std::string tenant) {
  auto* r = new GenerateReactor(ctx, call, std::move(tenant));
  r->submit(*request);
  r->leave();  // may finish r: the pointer is only returned
  return r;
}

void GenerateReactor::on_choice_event(int choice, StreamEvent event) {
  const v1::GenerateResponse* to_write = nullptr;
  bool finish = false;
  bool overflow = false;
  {
    std::lock_guard lock(mu_);
    ProtoChoiceStream& stream = *choices_[static_cast<std::size_t>(choice)];
    stream.metrics().on_event(event, tenant_, ctx_->metrics());
    if (event.finished) {
      ++num_finished_;
      completion_tokens_ += event.usage.completion_tokens;
      finish_reason_ = std::string(finish_reason_name(event.finish_reason));
      Status s = status_of_final(event);
      if (!s.ok() && error_.ok() && !cancelled_) error_ = s;
    }
    if (!cancelled_ && error_.ok()) {
      v1::GenerateResponse response;
      if (stream.on_event(event, &response)) {
        pending_bytes_ += response.ByteSizeLong();
        pending_.push_back(std::move(response));
      }
      if (pending_bytes_ > static_cast<std::size_t>(ctx_->limits().max_stream_buffer_bytes)) {
        // The client stopped reading: abort rather than buffer without bound.
        error_ = resource_exhausted("the client is not reading its stream (more than " +
                                    std::to_string(ctx_->limits().max_stream_buffer_bytes) +
                                    " bytes queued); the request was aborted");
        cancelled_ = true;
        overflow = true;
        ++callers_;  // until leave() below
      }
    }
    if (!overflow) pump_locked(&to_write, &finish);
  }
  if (overflow) {
    cancel_all();
    call_->TryCancel();  // completes the stuck write so the call can finish
    leave();
    return;
  }
  if (to_write != nullptr || finish) act(to_write, finish);
}

void GenerateReactor::pump_locked(const v1::GenerateResponse** to_write, bool* finish) {
  if (finish_called_ || writing_) return;
  if (!pending_.empty() && !cancelled_) {
    writing_ = true;
    *to_write = &pending_.front();
    return;
  }
  if (!may_finish_locked()) return;
  finish_called_ = true;
  *finish = true;
  if (!error_.ok()) {
    final_status_ = to_grpc_status(error_);
  } else if (cancelled_) {
    final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
  } else {
    final_status_ = grpc::Status::OK;
  }
}

void GenerateReactor::act(const v1::GenerateResponse* to_write, bool finish) {
  if (to_write != nullptr) StartWrite(to_write);
  if (finish) {
    conclude(final_status_);
    Finish(final_status_);  // may delete this: nothing after it
  }
}

void GenerateReactor::OnWriteDone(bool ok) {
  const v1::GenerateResponse* to_write = nullptr;
  bool finish = false;
  bool cancel = false;
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    pending_bytes_ -= pending_.front().ByteSizeLong();
    pending_.pop_front();
    if (!ok && !cancelled_) {
      cancelled_ = true;
      cancel = true;
      ++callers_;  // until leave() below
    } else {
      pump_locked(&to_write, &finish);
    }
  }
  if (cancel) {
    cancel_all();
    leave();
    return;
  }
  if (to_write != nullptr || finish) act(to_write, finish);
}

void GenerateReactor::OnCancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    ++callers_;  // until leave() below
  }
  cancel_all();
  leave();
}

void GenerateReactor::leave() {
  const v1::GenerateResponse* to_write = nullptr;
  bool finish = false;
  {
    std::lock_guard lock(mu_);
    --callers_;
    pump_locked(&to_write, &finish);
  }
  if (to_write != nullptr || finish) act(to_write, finish);
}

void GenerateReactor::OnDone() {
  delete this;
}

// ---------------------------------------------------------------------------
// GenerateOnceReactor

GenerateOnceReactor::GenerateOnceReactor(ServingContext* ctx, grpc::CallbackServerContext* call,
                                         v1::GenerateOnceResponse* response, std::string tenant)
    : GenerationCall(ctx, call, std::move(tenant), "GenerateOnce"), response_(response) {}

GenerateOnceReactor* GenerateOnceReactor::start(ServingContext* ctx, grpc::CallbackServerContext* call,
                                                const v1::GenerateRequest* request,
                                                v1::GenerateOnceResponse* response, std::string tenant) {
  auto* r = new GenerateOnceReactor(ctx, call, response, std::move(tenant));
  r->submit(*request);
  r->leave();  // may finish r: the pointer is only returned
  return r;
}

void GenerateOnceReactor::on_choice_event(int choice, StreamEvent event) {
  std::unique_lock lock(mu_);
  ProtoChoiceStream& stream = *choices_[static_cast<std::size_t>(choice)];
  stream.metrics().on_event(event, tenant_, ctx_->metrics());
  if (event.finished) {
    ++num_finished_;
    completion_tokens_ += event.usage.completion_tokens;
    finish_reason_ = std::string(finish_reason_name(event.finish_reason));
    Status s = status_of_final(event);
    if (!s.ok() && error_.ok() && !cancelled_) error_ = s;
  }
  if (!cancelled_ && error_.ok()) {
    while (response_->choices_size() < static_cast<int>(choices_.size()))
      response_->add_choices()->set_index(response_->choices_size() - 1);
    v1::GenerateResponse delta;
    if (stream.on_event(event, &delta)) {
      v1::Choice* c = response_->mutable_choices(choice);
      c->mutable_token_ids()->MergeFrom(delta.token_ids());
      c->mutable_text()->append(delta.text());
      c->mutable_reasoning()->append(delta.reasoning());
      c->mutable_tool_calls()->MergeFrom(delta.tool_calls());
      c->mutable_logprobs()->MergeFrom(delta.logprobs());
      if (delta.has_final()) *c->mutable_final() = delta.final();
    }
  }
  finish_if_done_locked(lock);
}

void GenerateOnceReactor::finish_if_done_locked(std::unique_lock<std::mutex>& lock) {
  if (finish_called_ || !may_finish_locked()) return;
  finish_called_ = true;
  grpc::Status status;
  if (!error_.ok()) {
    status = to_grpc_status(error_);
  } else if (cancelled_) {
    status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
  } else {
    response_->set_request_id(request_id_);
    v1::Usage* u = response_->mutable_usage();
    u->set_prompt_tokens(static_cast<std::int32_t>(prompt_tokens_));
    u->set_completion_tokens(static_cast<std::int32_t>(completion_tokens_));
    u->set_total_tokens(static_cast<std::int32_t>(prompt_tokens_ + completion_tokens_));
  }
  lock.unlock();
  conclude(status);
  Finish(status);  // may delete this: nothing after it
}

void GenerateOnceReactor::OnCancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    ++callers_;  // until leave() below
  }
  cancel_all();
  leave();
}

void GenerateOnceReactor::leave() {
  std::unique_lock lock(mu_);
  --callers_;
  finish_if_done_locked(lock);
}

void GenerateOnceReactor::OnDone() {
  delete this;
}

}  // namespace pagoda::server
