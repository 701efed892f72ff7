// The reactors of pagoda.v1.Pagoda/Generate (server streaming) and
// GenerateOnce (unary): one object per call, no thread of its own. Engine
// events arrive on the engine's output thread and are queued; gRPC callback
// threads write them out one at a time. Cancellation or a passed deadline
// cancels the engine requests; the reactor deletes itself in OnDone, after the
// last engine event.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "pagoda/v1/pagoda.grpc.pb.h"
#include "server/grpc_conversion.h"
#include "server/serving_context.h"

namespace pagoda::server {

// What both reactors share: parsing, submission, bookkeeping of engine ids and
// final events, and the access log.
class GenerationCall {
 protected:
  GenerationCall(ServingContext* ctx, grpc::CallbackServerContext* call, std::string tenant,
                 const char* route);
  ~GenerationCall();

  // Parses and submits; an error becomes the call's (error_), and when no
  // engine request was submitted the call has nothing left to wait for.
  void submit(const v1::GenerateRequest& request);
  // submit's work; on error returns it (nothing is running then unless engine_ids_ is non-empty).
  Status submit_choices_of(const v1::GenerateRequest& request);
  // Cancels every engine request of this call (any thread).
  void cancel_all();
  // Under mu_: every submitted engine request has delivered its final event.
  bool all_finished_locked() const { return submitted_ && num_finished_ == engine_ids_.size(); }
  // Under mu_: the call may be finished now. Finish() can delete the reactor
  // at once (OnDone on a gRPC thread), so it waits until no other thread is
  // inside an entry point that still touches members outside mu_; the last
  // one out finishes.
  bool may_finish_locked() const { return callers_ == 0 && all_finished_locked(); }
  // Frees the request id and writes the access log; called just before Finish(status).
  void conclude(const grpc::Status& status);
  // Converts a choice's event; called under mu_ on the engine output thread.
  virtual void on_choice_event(int choice, StreamEvent event) = 0;

  ServingContext* ctx_;
  grpc::CallbackServerContext* call_;
  std::string tenant_;
  const char* route_;
  std::string request_id_;
  bool registered_ = false;
  std::chrono::steady_clock::time_point start_;
  CallGuard guard_;
  GrpcGeneration generation_;
  std::vector<std::unique_ptr<ProtoChoiceStream>> choices_;

  std::mutex mu_;
  // Threads inside an entry point that will touch members after releasing
  // mu_ (start() counts as one until its end; cancellation paths while they
  // call into the engine). Guarded by mu_; each increment is undone by the
  // reactor's leave(), which is the last thing its entry point does.
  int callers_ = 1;
  std::vector<RequestId> engine_ids_;
  bool submitted_ = false;
  bool cancelled_ = false;
  std::size_t num_finished_ = 0;
  Status error_;  // first error of the call
  std::int64_t prompt_tokens_ = 0;
  std::int64_t completion_tokens_ = 0;
  std::string finish_reason_;
};

class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse>, private GenerationCall {
 public:
  // Starts the call; the reactor owns itself from here on.
  static GenerateReactor* start(ServingContext* ctx, grpc::CallbackServerContext* call,
                                const v1::GenerateRequest* request, std::string tenant);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  GenerateReactor(ServingContext* ctx, grpc::CallbackServerContext* call, std::string tenant);
  void on_choice_event(int choice, StreamEvent event) override;
  // Under mu_: what to do next; sets *to_write or *finish when an action is due.
  void pump_locked(const v1::GenerateResponse** to_write, bool* finish);
  // Outside mu_, only with an action from pump_locked (once the lock is
  // released a thread with nothing to do must not touch the reactor again:
  // another may finish it). Touches nothing after StartWrite or Finish.
  void act(const v1::GenerateResponse* to_write, bool finish);
  // Ends an entry point that counted itself in callers_: uncounts it, then
  // writes or finishes if that is due. The caller touches nothing after.
  void leave();

  std::deque<v1::GenerateResponse> pending_;
  std::size_t pending_bytes_ = 0;  // serialized size of pending_, capped by limits().max_stream_buffer_bytes
  bool writing_ = false;
  bool finish_called_ = false;
  grpc::Status final_status_;
};

class GenerateOnceReactor final : public grpc::ServerUnaryReactor, private GenerationCall {
 public:
  static GenerateOnceReactor* start(ServingContext* ctx, grpc::CallbackServerContext* call,
                                    const v1::GenerateRequest* request, v1::GenerateOnceResponse* response,
                                    std::string tenant);
  void OnCancel() override;
  void OnDone() override;

 private:
  GenerateOnceReactor(ServingContext* ctx, grpc::CallbackServerContext* call,
                      v1::GenerateOnceResponse* response, std::string tenant);
  void on_choice_event(int choice, StreamEvent event) override;
  void finish_if_done_locked(std::unique_lock<std::mutex>& lock);
  // As GenerateReactor::leave().
  void leave();

  v1::GenerateOnceResponse* response_;
  bool finish_called_ = false;
};

}  // namespace pagoda::server
