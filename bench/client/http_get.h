// A small blocking HTTP/1.1 GET for plain-http URLs, bounded in time and size,
// used to scrape a benchmark target's /metrics page. Any thread may call
// http_get; an HttpCancelToken lets another thread interrupt it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace pagoda::bench {

// "http://host[:port][/path[?query]]"; host is a name, an IPv4 address or a
// bracketed IPv6 address ("[::1]").
struct HttpUrl {
  std::string host;  // without brackets
  std::uint16_t port = 80;
  std::string target = "/";  // path and query
};

// Parses `url`; an empty path becomes `default_path`. Other schemes than http
// (https included) are INVALID_ARGUMENT with a message naming the scheme.
StatusOr<HttpUrl> parse_http_url(std::string_view url, std::string_view default_path = "/");

struct HttpGetOptions {
  std::chrono::milliseconds timeout{2000};  // the whole exchange: resolve, connect, write, read
  std::size_t max_body_bytes = std::size_t{16} << 20;
};

// Interrupts http_get calls from another thread. Thread-safe.
class HttpCancelToken {
 public:
  // Interrupts the GET in flight (it returns CANCELLED) and makes later ones
  // fail at once, until reset().
  void cancel();
  void reset();
  bool cancelled() const;

 private:
  friend class HttpCancelScope;
  mutable std::mutex mu_;
  bool cancelled_ = false;
  boost::asio::io_context* active_ = nullptr;  // the GET in flight, if any
};

// GET `url` with Connection: close and returns the body of a 200 response.
// Errors: UNAVAILABLE (resolve or connect failed, connection reset, non-200
// status), DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (body over the cap),
// DATA_LOSS (malformed response), CANCELLED. Messages name the URL.
StatusOr<std::string> http_get(const HttpUrl& url, const HttpGetOptions& options = {},
                               HttpCancelToken* cancel = nullptr);

}  // namespace pagoda::bench
