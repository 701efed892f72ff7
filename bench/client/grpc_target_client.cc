#include "bench/client/grpc_target_client.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "base/mapped_file.h"
#include "base/status.h"
#include "base/thread_name.h"
#include "pagoda/v1/pagoda.grpc.pb.h"

namespace pagoda::bench {
namespace {

namespace v1 = pagoda::v1;

// One streaming call on the async API; its completions arrive on the thread
// that polls its queue. It deletes itself once Finish completes, after
// handing its record over.
class GenerateCall {
 public:
  // What a completion-queue tag names: this call and which of its operations.
  struct Op {
    enum Kind { kStart, kRead, kFinish };
    GenerateCall* call;
    Kind kind;
  };

  GenerateCall(const TargetOptions& options, const BenchRequest& request, BenchClock::time_point epoch,
               TargetClient::Done done)
      : timer_(epoch, record_), done_(std::move(done)) {
    record_.index = request.index;
    record_.prompt_tokens = request.prompt_tokens;
    if (options.send_token_ids && !request.prompt_ids.empty()) {
      request_.mutable_token_ids()->mutable_ids()->Add(request.prompt_ids.begin(), request.prompt_ids.end());
    } else {
      request_.set_text(request.prompt);
    }
    v1::SamplingParameters* s = request_.mutable_sampling();
    s->set_max_tokens(request.max_tokens);
    s->set_ignore_eos(options.ignore_eos);
    if (options.temperature) s->set_temperature(*options.temperature);
    if (!options.api_key.empty()) context_.AddMetadata("authorization", "Bearer " + options.api_key);
    context_.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<std::int64_t>(options.request_timeout_s * 1000)));
  }

  void start(v1::Pagoda::Stub& stub, grpc::CompletionQueue& cq) {
    reader_ = stub.PrepareAsyncGenerate(&context_, request_, &cq);
    timer_.on_sent();
    reader_->StartCall(&start_op_);
  }

  // Runs on the queue's thread; at most one operation is outstanding at a time.
  void on_complete(Op::Kind kind, bool ok) {
    switch (kind) {
      case Op::kStart:
      case Op::kRead:
        if (kind == Op::kRead && ok) on_response();
        if (ok) {
          response_.Clear();
          reader_->Read(&response_, &read_op_);
        } else {
          reader_->Finish(&status_, &finish_op_);  // the stream ended or failed
        }
        return;
      case Op::kFinish:
        on_done();
        return;
    }
  }

 private:
  void on_response() {
    if (response_.token_ids_size() > 0) timer_.on_output(response_.token_ids_size());
    if (response_.has_final()) {
      const v1::Usage& u = response_.final().usage();
      record_.usage_prompt_tokens = u.prompt_tokens();
      record_.usage_completion_tokens = u.completion_tokens();
      if (response_.final().finish_reason() == v1::FINISH_REASON_ERROR)
        final_error_ = response_.final().error();
    }
  }

  void on_done() {
    timer_.on_end();
    if (!status_.ok()) {
      // gRPC's codes are the canonical ones StatusCode mirrors.
      record_.error_kind = "grpc_";
      record_.error_kind += status_code_name(static_cast<StatusCode>(static_cast<int>(status_.error_code())));
      record_.error_message = status_.error_message();
    } else if (!final_error_.empty()) {
      record_.error_kind = "model_error";
      record_.error_message = final_error_;
    } else if (record_.ttft_s < 0) {
      record_.error_kind = "no_output";
      record_.error_message = "the stream ended without output tokens";
    } else {
      record_.ok = true;
    }
    // Delete first, report second: once `done` has run, the runner may
    // destroy the client, and with it the queue this call belongs to.
    TargetClient::Done done = std::move(done_);
    RequestRecord record = std::move(record_);
    delete this;
    done(std::move(record));
  }

  grpc::ClientContext context_;
  v1::GenerateRequest request_;
  v1::GenerateResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncReader<v1::GenerateResponse>> reader_;
  RequestRecord record_;
  RequestTimer timer_;
  TargetClient::Done done_;
  std::string final_error_;
  Op start_op_{this, Op::kStart};
  Op read_op_{this, Op::kRead};
  Op finish_op_{this, Op::kFinish};
};

// One completion queue, polled by one thread of the client's own: every
// stream shares the channel's one HTTP/2 connection, and gRPC 1.51's pollers
// share one epoll set, so a second polling thread only takes the socket in
// turns with the first (measured: 273 + 262 context switches of the two over
// one 128-token stream, against 210 for one thread and ~450 for the callback
// API's two pollers). The thread that reads the socket runs the completions.
class GrpcTargetClient : public TargetClient {
 public:
  GrpcTargetClient(TargetOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)),
        channel_(std::move(channel)),
        stub_(v1::Pagoda::NewStub(channel_)),
        poller_([this] {
          set_current_thread_name("pagoda-bench-io");
          void* tag = nullptr;
          bool ok = false;
          while (queue_.Next(&tag, &ok)) {
            auto* op = static_cast<GenerateCall::Op*>(tag);
            op->call->on_complete(op->kind, ok);
          }
        }) {}
  // Every call must have reported (the load runner waits for them): the queue
  // is shut down only once nothing can be added to it.
  ~GrpcTargetClient() override {
    queue_.Shutdown();
    poller_.join();
  }

  void send(const BenchRequest& request, BenchClock::time_point epoch, Done done) override {
    (new GenerateCall(options_, request, epoch, std::move(done)))->start(*stub_, queue_);
  }

 private:
  TargetOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Pagoda::Stub> stub_;
  grpc::CompletionQueue queue_;
  std::thread poller_;  // last: starts once the members above exist
};

}  // namespace

StatusOr<std::unique_ptr<TargetClient>> make_grpc_target_client(const TargetOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      StatusOr<std::string> roots = read_file(options.tls_ca_file);
      if (!roots.ok()) return invalid_argument("--tls-ca: " + roots.status().message());
      ssl.pem_root_certs = *roots;
    }
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Separate subchannels would spread streams over connections; one channel
  // multiplexes every stream over HTTP/2, as production gRPC clients do.
  auto channel = grpc::CreateCustomChannel(options.host + ":" + std::to_string(options.port), creds, args);
  return std::unique_ptr<TargetClient>(new GrpcTargetClient(options, std::move(channel)));
}

}  // namespace pagoda::bench
