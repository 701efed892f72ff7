// HttpSession: one HTTP/1.1 connection (plain TCP or TLS) on Boost.Beast —
// reads requests with header and body size caps, hands each to the router as
// an HttpExchange, writes full responses or chunked server-sent events, keeps
// the connection alive between requests and notices a client that leaves
// mid-response. Owned by shared_ptr (the Beast idiom: every pending operation
// holds it); all of its state lives on its strand.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "server/http_exchange.h"
#include "server/http_request.h"
#include "server/serving_context.h"

namespace pagoda::server {

class HttpRouter;

template <class Stream>
class HttpSession final : public HttpExchange, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream stream, HttpRouter* router, ServingContext* ctx);
  ~HttpSession() override;

  // Starts reading (after the TLS handshake for TLS streams).
  void start();

  const HttpRequest& request() const override { return request_; }
  std::string peer() const override { return peer_; }
  boost::asio::any_io_executor executor() override { return stream_.get_executor(); }
  void respond(unsigned status, std::string body,
               std::string_view content_type = "application/json") override;
  void start_sse() override;
  void send_sse(std::string_view data) override;
  void end_sse() override;
  void on_disconnect(std::function<void()> callback) override { on_disconnect_ = std::move(callback); }
  bool disconnected() const override { return disconnected_; }
  AccessRecord& access() override { return access_; }

 private:
  enum class Phase { kReading, kHandling, kIdle, kClosed };

  void do_read();
  void on_read(boost::beast::error_code ec);
  void reject(unsigned status, const std::string& message);
  void watch();
  void on_watch(boost::beast::error_code ec, std::size_t bytes);
  void enqueue(std::string bytes);
  void do_write();
  void on_write(boost::beast::error_code ec);
  void response_complete();
  void lost_client();
  void close();

  Stream stream_;
  HttpRouter* router_;
  ServingContext* ctx_;
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::optional<HttpRequestParser> parser_;
  HttpRequest request_;
  Phase phase_ = Phase::kReading;
  bool keep_alive_ = false;
  bool response_done_ = false;  // the whole response is queued
  bool watching_ = false;       // a disconnect-watch read is pending
  bool writing_ = false;
  bool disconnected_ = false;
  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;  // bytes in out_, capped by limits().max_stream_buffer_bytes
  std::function<void()> on_disconnect_;
  std::optional<CallGuard> call_;
  AccessRecord access_;
  std::chrono::steady_clock::time_point request_start_;
};

using PlainHttpSession = HttpSession<boost::beast::tcp_stream>;
using TlsHttpSession = HttpSession<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

}  // namespace pagoda::server
