#include "bench/client/http_get.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>
#include <utility>

namespace pagoda::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool valid_host(std::string_view host, bool bracketed) {
  if (host.empty()) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_' || (bracketed && (c == ':' || c == '%'));
    if (!ok) return false;
  }
  return true;
}

// Printable ASCII without spaces: nothing that could split the request line.
bool valid_target(std::string_view target) {
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

std::string url_string(const HttpUrl& url) {
  bool v6 = url.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port) + url.target;
}

Status map_error(std::string_view step, const beast::error_code& ec, const std::string& where,
                 const HttpGetOptions& options) {
  std::string prefix = where + ": " + std::string(step) + ": ";
  if (ec == beast::error::timeout) {
    return {StatusCode::kDeadlineExceeded,
            prefix + "timed out after " + std::to_string(options.timeout.count()) + " ms"};
  }
  if (ec == http::error::body_limit) {
    return resource_exhausted(prefix + "response body larger than " + std::to_string(options.max_body_bytes) +
                              " bytes");
  }
  if (ec == http::error::header_limit) {
    return resource_exhausted(prefix + "response header larger than " + std::to_string(kMaxHeaderBytes) +
                              " bytes");
  }
  if (ec == net::error::operation_aborted) return {StatusCode::kCancelled, prefix + "cancelled"};
  if (ec == http::error::end_of_stream) return unavailable(prefix + "connection closed before a response");
  if (ec.category() == http::make_error_code(http::error::partial_message).category()) {
    return data_loss(prefix + "malformed HTTP response: " + ec.message());
  }
  return unavailable(prefix + ec.message());
}

}  // namespace

// Registers the io_context of one GET with its cancel token for its lifetime.
class HttpCancelScope {
 public:
  HttpCancelScope(HttpCancelToken* token, net::io_context* ioc) : token_(token) {
    if (token_ == nullptr) return;
    std::lock_guard<std::mutex> lock(token_->mu_);
    cancelled_ = token_->cancelled_;
    if (!cancelled_) token_->active_ = ioc;
  }
  ~HttpCancelScope() {
    if (token_ == nullptr) return;
    std::lock_guard<std::mutex> lock(token_->mu_);
    token_->active_ = nullptr;
  }
  HttpCancelScope(const HttpCancelScope&) = delete;
  HttpCancelScope& operator=(const HttpCancelScope&) = delete;

  bool cancelled_at_start() const { return cancelled_; }

 private:
  HttpCancelToken* token_;
  bool cancelled_ = false;
};

void HttpCancelToken::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (active_ != nullptr) active_->stop();  // io_context::stop is thread-safe
}

void HttpCancelToken::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = false;
}

bool HttpCancelToken::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

StatusOr<HttpUrl> parse_http_url(std::string_view url, std::string_view default_path) {
  const std::string quoted = "'" + std::string(url) + "'";
  std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return invalid_argument("URL " + quoted + " has no scheme; expected http://host:port/path");
  }
  std::string scheme = lower(url.substr(0, sep));
  if (scheme == "https") {
    return invalid_argument("URL " + quoted + ": https is not supported here; use an http:// URL");
  }
  if (scheme != "http") {
    return invalid_argument("URL " + quoted + ": unsupported scheme '" + scheme +
                            "'; only http:// is supported");
  }
  std::string_view rest = url.substr(sep + 3);
  std::size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (std::size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);

  if (authority.find('@') != std::string_view::npos) {
    return invalid_argument("URL " + quoted + ": user information is not supported");
  }
  HttpUrl out;
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
  if (!authority.empty() && authority[0] == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return invalid_argument("URL " + quoted + ": unterminated '[' in host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return invalid_argument("URL " + quoted + ": unexpected text after ']'");
      port = after.substr(1);
      if (port.empty()) return invalid_argument("URL " + quoted + ": empty port");
    }
    bracketed = true;
  } else {
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return invalid_argument("URL " + quoted + ": empty port");
    }
  }
  if (!valid_host(host, bracketed)) return invalid_argument("URL " + quoted + ": bad or empty host");
  out.host = std::string(host);
  if (!port.empty()) {
    if (port.size() > 5) return invalid_argument("URL " + quoted + ": bad port");
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return invalid_argument("URL " + quoted + ": bad port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return invalid_argument("URL " + quoted + ": port out of range");
    out.port = static_cast<std::uint16_t>(value);
  }
  if (target.empty() || target[0] == '?') {
    out.target = std::string(default_path) + std::string(target);
  } else {
    out.target = std::string(target);
  }
  if (out.target.empty() || out.target[0] != '/') out.target.insert(out.target.begin(), '/');
  if (!valid_target(out.target)) return invalid_argument("URL " + quoted + ": bad characters in path");
  return out;
}

StatusOr<std::string> http_get(const HttpUrl& url, const HttpGetOptions& options, HttpCancelToken* cancel) {
  const std::string where = url_string(url);
  if (!valid_host(url.host, true) || !valid_target(url.target) || url.target.empty()) {
    return invalid_argument(where + ": bad URL");
  }
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;

  // Declared before everything that uses it, so it is destroyed last.
  net::io_context ioc(1);
  HttpCancelScope scope(cancel, &ioc);
  if (scope.cancelled_at_start()) return Status(StatusCode::kCancelled, where + ": cancelled");

  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request(http::verb::get, url.target, 11);
  bool v6 = url.host.find(':') != std::string::npos;
  request.set(http::field::host, (v6 ? "[" + url.host + "]" : url.host) +
                                     (url.port == 80 ? "" : ":" + std::to_string(url.port)));
  request.set(http::field::user_agent, "pagoda-bench");
  request.set(http::field::accept, "text/plain;version=0.0.4;q=1,*/*;q=0.1");
  request.set(http::field::connection, "close");
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(kMaxHeaderBytes);

  std::optional<Status> result;  // the first outcome wins
  auto fail = [&](std::string_view step, const beast::error_code& ec) {
    if (!result) result = map_error(step, ec, where, options);
  };
  auto on_read = [&](beast::error_code ec, std::size_t) {
    if (result) return;
    if (ec) return fail("read", ec);
    if (parser.get().body().size() > options.max_body_bytes) {
      return fail("read", http::make_error_code(http::error::body_limit));
    }
    result = ok_status();
  };
  // The header first, to refuse an oversized Content-Length before the body
  // is allocated: Beast 1.74 loses its own body_limit error when the header
  // and body arrive in one read.
  auto on_header = [&](beast::error_code ec, std::size_t) {
    if (result) return;
    if (ec) return fail("read", ec);
    if (parser.content_length() && *parser.content_length() > options.max_body_bytes) {
      return fail("read", http::make_error_code(http::error::body_limit));
    }
    if (parser.is_done()) {
      result = ok_status();
      return;
    }
    http::async_read(stream, buffer, parser, on_read);
  };
  auto on_write = [&](beast::error_code ec, std::size_t) {
    if (result) return;
    if (ec) return fail("write", ec);
    http::async_read_header(stream, buffer, parser, on_header);
  };
  auto on_connect = [&](beast::error_code ec) {
    if (result) return;
    if (ec) return fail("connect", ec);
    http::async_write(stream, request, on_write);
  };

  beast::error_code addr_ec;
  net::ip::address address = net::ip::make_address(url.host, addr_ec);
  stream.expires_at(deadline);
  if (!addr_ec) {
    stream.async_connect(tcp::endpoint(address, url.port), on_connect);
  } else {
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [&](beast::error_code ec, const tcp::resolver::results_type& endpoints) {
                             if (result) return;
                             if (ec) return fail("resolve", ec);
                             stream.async_connect(endpoints, [&](beast::error_code cec,
                                                                 const tcp::endpoint&) { on_connect(cec); });
                           });
  }
  // The stream's own timer ends connect/write/read at the deadline; this bound
  // also covers name resolution.
  ioc.run_until(deadline + std::chrono::milliseconds(100));
  if (!result) {
    if (cancel != nullptr && cancel->cancelled()) {
      result = Status(StatusCode::kCancelled, where + ": cancelled");
    } else {
      result = Status(StatusCode::kDeadlineExceeded,
                      where + ": timed out after " + std::to_string(options.timeout.count()) + " ms");
    }
    // Abort what is pending and run the aborted handlers (they see `result`
    // set and do nothing) before the locals they refer to go away.
    beast::error_code ignored;
    stream.socket().close(ignored);
    resolver.cancel();
    ioc.restart();
    ioc.poll();
  }
  if (!result->ok()) return *result;
  const auto& response = parser.get();  // complete: result is OK
  if (response.result_int() != 200) {
    return unavailable(where + ": HTTP " + std::to_string(response.result_int()) + " " +
                       std::string(response.reason()));
  }
  return std::move(parser.get().body());
}

}  // namespace pagoda::bench
