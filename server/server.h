// Server: the lifecycle of `pagoda serve` — binds the gRPC, HTTP and metrics
// listeners, loads the model and builds the Engine, warms it up, turns ready,
// and on shutdown drains (health NOT_SERVING / 503, new requests refused,
// in-flight requests finish up to the timeout) before stopping the listeners.
// Driven by one thread (the serve command's main thread, or a test).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "engine/engine.h"
#include "server/serve_options.h"

namespace pagoda::server {

class ServingContext;

class Server {
 public:
  static StatusOr<std::unique_ptr<Server>> create(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners and reports each with `announce` ("grpc listening on
  // 127.0.0.1:41234"); the server answers UNAVAILABLE / 503 until the model is
  // loaded and warmed up, which start() also does before returning.
  Status start(const std::function<void(const std::string&)>& announce);

  // Idempotent. Drains for at most `timeout`, then stops every listener.
  void shutdown(std::chrono::milliseconds timeout);

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  int metrics_port() const { return metrics_port_; }
  // Valid after start() succeeded.
  Engine& engine();
  ServingContext& context();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  Status load_model();
  Status warm_up();

  std::unique_ptr<Impl> impl_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  int metrics_port_ = 0;
};

// Blocks SIGINT and SIGTERM in the calling thread; call before starting any
// thread so that every thread inherits the mask.
void block_termination_signals();
// Waits for SIGINT or SIGTERM (blocked by block_termination_signals) and returns its number.
int wait_for_termination_signal();

// Why `pagoda serve` stops: a termination signal (its number), or an engine
// that can never run a step again (`broken`: a GPU group that lost a rank, a
// faulted GPU, a multi-node group that lost a node), after which the process
// exits so that it is restarted.
struct StopCause {
  int signal = 0;
  Status broken;
};
// Waits for SIGINT or SIGTERM (as wait_for_termination_signal), asking
// `health` every `poll` meanwhile; returns at its first error.
StopCause wait_for_stop(const std::function<Status()>& health, std::chrono::milliseconds poll);

}  // namespace pagoda::server
