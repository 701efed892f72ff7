// Helpers for the server's integration tests: a tiny random-weight model with
// the real Qwen 3 tokenizer (written once per test process), a real Server on
// 127.0.0.1 port 0, a blocking HTTP client and raw-socket helpers. Test thread only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/serve_options.h"
#include "server/server.h"

namespace pagoda::server::testing {

// A tiny-preset model directory (seed 0) with tokenizer files; created once per process.
const std::string& tiny_model_dir();
// A scratch directory unique to this process, removed when it exits
// (pagoda_test_temp_dir()).
std::string temp_dir();

// Options for a test server: ports 0, small KV cache, 2 threads, quiet logs.
ServeOptions test_options();
std::unique_ptr<Server> start_server(const ServeOptions& options);

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One request on a fresh connection; status 0 when the connection failed.
HttpResponse http_request(int port, const std::string& method, const std::string& target,
                          const std::string& body = "",
                          const std::map<std::string, std::string>& headers = {});
// Sends raw bytes and reads until the server closes or `timeout` passes.
std::string raw_http(int port, const std::string& bytes,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The status code of a raw response ("HTTP/1.1 400 ..."), or 0.
int status_of(const std::string& raw_response);

// The `data:` payloads of an SSE body, in order.
std::vector<std::string> sse_events(const std::string& body);

// Polls until every KV block is free (nothing running or waiting); false on timeout.
bool wait_all_blocks_free(Server& server, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Waits until the engine has ended at least `num_ended` requests since it
// started (for any reason: EngineStats::num_requests_finished) and every block
// is free. Unlike wait_all_blocks_free alone, it cannot return before a request
// that is still on its way to the engine has even started.
bool wait_requests_ended(Server& server, std::int64_t num_ended, std::chrono::milliseconds timeout);

// A connected socket (for disconnect tests); -1 on failure.
int connect_to(int port);

}  // namespace pagoda::server::testing
