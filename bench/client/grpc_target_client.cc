#include "bench/client/grpc_target_client.h"

#include <grpcpp/grpcpp.h>

#include "base/mapped_file.h"
#include "base/status.h"
#include "pagoda/v1/pagoda.grpc.pb.h"

namespace pagoda::bench {
namespace {

namespace v1 = pagoda::v1;

// One streaming call; deletes itself in OnDone after handing its record over.
class GenerateCall : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
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

  void start(v1::Pagoda::Stub& stub) {
    stub.async()->Generate(&context_, &request_, this);
    timer_.on_sent();
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows with the status
    if (response_.token_ids_size() > 0) timer_.on_output(response_.token_ids_size());
    if (response_.has_final()) {
      const v1::Usage& u = response_.final().usage();
      record_.usage_prompt_tokens = u.prompt_tokens();
      record_.usage_completion_tokens = u.completion_tokens();
      if (response_.final().finish_reason() == v1::FINISH_REASON_ERROR)
        final_error_ = response_.final().error();
    }
    response_.Clear();
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    timer_.on_end();
    if (!status.ok()) {
      // gRPC's codes are the canonical ones StatusCode mirrors.
      record_.error_kind = "grpc_";
      record_.error_kind += status_code_name(static_cast<StatusCode>(static_cast<int>(status.error_code())));
      record_.error_message = status.error_message();
    } else if (!final_error_.empty()) {
      record_.error_kind = "model_error";
      record_.error_message = final_error_;
    } else if (record_.ttft_s < 0) {
      record_.error_kind = "no_output";
      record_.error_message = "the stream ended without output tokens";
    } else {
      record_.ok = true;
    }
    // Delete first, report second: the call's ClientContext holds a channel
    // reference, and the channel must be released by its owner's thread (a
    // gRPC 1.51 channel whose last reference drops on a callback thread races
    // with process exit), not here after the runner has moved on.
    TargetClient::Done done = std::move(done_);
    RequestRecord record = std::move(record_);
    delete this;
    done(std::move(record));
  }

 private:
  grpc::ClientContext context_;
  v1::GenerateRequest request_;
  v1::GenerateResponse response_;
  RequestRecord record_;
  RequestTimer timer_;
  TargetClient::Done done_;
  std::string final_error_;
};

class GrpcTargetClient : public TargetClient {
 public:
  GrpcTargetClient(TargetOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), channel_(std::move(channel)), stub_(v1::Pagoda::NewStub(channel_)) {}

  void send(const BenchRequest& request, BenchClock::time_point epoch, Done done) override {
    (new GenerateCall(options_, request, epoch, std::move(done)))->start(*stub_);
  }

 private:
  TargetOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Pagoda::Stub> stub_;
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
