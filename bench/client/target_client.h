// TargetClient: sends one benchmark request to the server under test, always
// streaming, and measures it at the client. Implementations: gRPC (pagoda.v1)
// and OpenAI-compatible HTTP (chat or completions, SSE). send() returns at
// once; `done` runs exactly once per request on one of the client's I/O
// threads, so it must be thread-safe and quick.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "bench/client/bench_request.h"
#include "bench/client/request_timer.h"

namespace pagoda::bench {

struct TargetOptions {
  std::string protocol = "openai-chat";  // grpc | openai-chat | openai-completions
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string model;    // the "model" field of OpenAI requests, sent as is
  std::string api_key;  // sent as "authorization: Bearer KEY" when set
  bool tls = false;
  std::string tls_ca_file;            // PEM roots to trust (default: the system's)
  bool tls_insecure = false;          // HTTP only: do not verify the server certificate
  bool ignore_eos = true;             // force the output length (Pagoda and vLLM honour it)
  bool send_token_ids = true;         // gRPC: send prompt ids when the workload has them
  std::optional<double> temperature;  // unset: the server's default
  double request_timeout_s = 600;
  int num_threads = 2;  // I/O threads (io_contexts) of the HTTP client
};

class TargetClient {
 public:
  using Done = std::function<void(RequestRecord)>;
  virtual ~TargetClient() = default;
  // Starts `request` now. Record times are seconds since `epoch`.
  virtual void send(const BenchRequest& request, BenchClock::time_point epoch, Done done) = 0;
};

StatusOr<std::unique_ptr<TargetClient>> make_target_client(const TargetOptions& options);

}  // namespace pagoda::bench
