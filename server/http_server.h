// HttpServer: the OpenAI-compatible HTTP(S) listener — an acceptor and an
// IoContextPool (one io_context per I/O thread); each connection is an
// HttpSession on a strand of the context it was dealt to (no thread per
// connection). start/stop are called by the Server on the main thread.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/http_router.h"
#include "server/serving_context.h"
#include "server/tls_config.h"

namespace pagoda::server {

class HttpServer {
 public:
  explicit HttpServer(ServingContext* ctx);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (0 picks one) and starts `num_threads` io threads.
  Status start(const std::string& host, int port, int num_threads, const TlsConfig& tls);
  int port() const { return port_; }
  // Stops accepting, closes every connection and joins the threads.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace pagoda::server
