#include "server/http_session.h"

#include <cstdio>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include "server/http_errors.h"
#include "server/http_router.h"
#include "server/logging.h"

namespace pagoda::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

constexpr bool kIsTls(const beast::tcp_stream*) {
  return false;
}
constexpr bool kIsTls(const beast::ssl_stream<beast::tcp_stream>*) {
  return true;
}

std::string status_line(unsigned status) {
  std::string reason(http::obsolete_reason(static_cast<http::status>(status)));
  if (status == 499) reason = "Client Closed Request";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(Stream stream, HttpRouter* router, ServingContext* ctx)
    : stream_(std::move(stream)), router_(router), ctx_(ctx) {
  beast::error_code ec;
  auto& socket = beast::get_lowest_layer(stream_).socket();
  socket.set_option(net::ip::tcp::no_delay(true), ec);
  if (ctx_->options().http_send_buffer_bytes > 0)
    socket.set_option(net::socket_base::send_buffer_size(ctx_->options().http_send_buffer_bytes), ec);
  auto endpoint = socket.remote_endpoint(ec);
  if (!ec) peer_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

template <class Stream>
HttpSession<Stream>::~HttpSession() = default;

template <class Stream>
void HttpSession<Stream>::start() {
  if constexpr (kIsTls(static_cast<Stream*>(nullptr))) {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    stream_.async_handshake(net::ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code ec) {
                              if (ec) return self->close();
                              self->do_read();
                            });
  } else {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->do_read(); });
  }
}

template <class Stream>
void HttpSession<Stream>::do_read() {
  phase_ = Phase::kReading;
  const RequestLimits& limits = ctx_->limits();
  parser_.emplace();
  apply_request_limits(*parser_, limits);
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(ctx_->options().http_idle_timeout_s));
  http::async_read(
      stream_, buffer_, *parser_,
      [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

template <class Stream>
void HttpSession<Stream>::on_read(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset) {
    return close();
  }
  request_start_ = std::chrono::steady_clock::now();
  access_ = AccessRecord();
  access_.api = "http";
  access_.peer = peer_;
  if (ec) {
    HttpReply reply = read_error_reply(ec, ctx_->limits());
    return reject(reply.status, reply.error);
  }
  request_ = parser_->release();
  keep_alive_ = request_.keep_alive();
  access_.route = std::string(request_.target().substr(0, 128));
  phase_ = Phase::kHandling;
  response_done_ = false;
  call_.emplace(ctx_);
  beast::get_lowest_layer(stream_).expires_never();
  watch();
  router_->handle(this->shared_from_this());
}

template <class Stream>
void HttpSession<Stream>::reject(unsigned status, const std::string& message) {
  phase_ = Phase::kHandling;
  keep_alive_ = false;
  access_.route = "?";
  respond(status, openai_error_body(status, message));
}

template <class Stream>
void HttpSession<Stream>::watch() {
  // Bytes of a pipelined request already buffered: no watch (it would wait for
  // more bytes that may never come); the next do_read parses them.
  if (watching_ || disconnected_ || buffer_.size() > 0) return;
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t bytes) {
                            self->on_watch(ec, bytes);
                          });
}

template <class Stream>
void HttpSession<Stream>::on_watch(beast::error_code ec, std::size_t bytes) {
  watching_ = false;
  if (ec) {
    if (phase_ == Phase::kHandling) return lost_client();
    return close();
  }
  buffer_.commit(bytes);  // the start of a pipelined request: parsed by the next do_read
  if (phase_ == Phase::kIdle) do_read();
}

template <class Stream>
void HttpSession<Stream>::respond(unsigned status, std::string body, std::string_view content_type) {
  if (response_done_ || phase_ != Phase::kHandling) return;
  std::string head = status_line(status);
  head += "Content-Type: ";
  head += content_type;
  head += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  if (status == 401) head += "WWW-Authenticate: Bearer\r\n";
  head += "\r\n";
  access_.http_status = static_cast<int>(status);
  response_done_ = true;
  enqueue(std::move(head) + body);
}

template <class Stream>
void HttpSession<Stream>::start_sse() {
  if (response_done_ || phase_ != Phase::kHandling) return;
  access_.http_status = 200;
  enqueue(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "Transfer-Encoding: chunked\r\n" +
      std::string(keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n") + "\r\n");
}

template <class Stream>
void HttpSession<Stream>::send_sse(std::string_view data) {
  if (response_done_ || phase_ != Phase::kHandling) return;
  std::string event = "data: ";
  event += data;
  event += "\n\n";
  char size[20];
  std::snprintf(size, sizeof(size), "%zx\r\n", event.size());
  enqueue(std::string(size) + event + "\r\n");
}

template <class Stream>
void HttpSession<Stream>::end_sse() {
  if (response_done_ || phase_ != Phase::kHandling) return;
  response_done_ = true;
  enqueue("0\r\n\r\n");
}

template <class Stream>
void HttpSession<Stream>::enqueue(std::string bytes) {
  if (disconnected_ || phase_ == Phase::kClosed) {
    if (response_done_) response_complete();
    return;
  }
  out_bytes_ += bytes.size();
  out_.push_back(std::move(bytes));
  if (!response_done_ && out_bytes_ > static_cast<std::size_t>(ctx_->limits().max_stream_buffer_bytes)) {
    // The client stopped reading: abort its request rather than buffer without bound.
    log_line(LogLevel::kWarn, "client not reading its stream; request aborted",
             {{"peer", peer_}, {"buffered_bytes", static_cast<std::int64_t>(out_bytes_)}});
    lost_client();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    return;
  }
  if (!writing_) do_write();
}

template <class Stream>
void HttpSession<Stream>::do_write() {
  writing_ = true;
  net::async_write(
      stream_, net::buffer(out_.front()),
      [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

template <class Stream>
void HttpSession<Stream>::on_write(beast::error_code ec) {
  writing_ = false;
  out_bytes_ -= out_.front().size();
  out_.pop_front();
  if (ec) {
    out_.clear();
    out_bytes_ = 0;
    if (phase_ == Phase::kHandling && !response_done_) return lost_client();
    if (phase_ == Phase::kHandling) response_complete();
    return close();
  }
  if (!out_.empty()) return do_write();
  if (response_done_ && phase_ == Phase::kHandling) response_complete();
}

template <class Stream>
void HttpSession<Stream>::response_complete() {
  if (phase_ != Phase::kHandling) return;
  access_.latency_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - request_start_).count();
  if (access_.http_status == 0) access_.http_status = 499;
  log_access(access_);
  if (ctx_->metrics() != nullptr) {
    ctx_->metrics()->count_call("http", access_.route, std::to_string(access_.http_status), access_.tenant);
  }
  on_disconnect_ = nullptr;
  call_.reset();
  if (!keep_alive_ || disconnected_) return close();
  phase_ = Phase::kIdle;
  if (!watching_) do_read();  // else on_watch continues once the next request's bytes arrive
}

template <class Stream>
void HttpSession<Stream>::lost_client() {
  if (disconnected_) return;
  disconnected_ = true;
  if (on_disconnect_) {
    auto callback = std::move(on_disconnect_);
    on_disconnect_ = nullptr;
    callback();
  }
  // The handler still finishes (its engine requests end); its response goes nowhere.
  if (response_done_) response_complete();
}

template <class Stream>
void HttpSession<Stream>::close() {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kHandling && !response_done_) {
    // The handler is still running: it completes the exchange later.
    disconnected_ = true;
  } else {
    phase_ = Phase::kClosed;
    call_.reset();
  }
  beast::error_code ec;
  if constexpr (kIsTls(static_cast<Stream*>(nullptr))) {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().close(ignored);
    });
  } else {
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }
}

template class HttpSession<beast::tcp_stream>;
template class HttpSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace pagoda::server
