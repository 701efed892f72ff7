#include "server/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>

#include <optional>

#include "base/io_context_pool.h"
#include "server/http_session.h"
#include "server/logging.h"

namespace pagoda::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  explicit Impl(ServingContext* c) : ctx(c), router(c) {}

  // Accepts on the first context; each connection's socket goes to the next
  // context in turn, on a strand of its own.
  void accept() {
    acceptor->async_accept(net::make_strand(pool->next()), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
        log_line(LogLevel::kWarn, "http accept failed", {{"error", ec.message()}});
      } else if (ssl) {
        std::make_shared<TlsHttpSession>(beast::ssl_stream<beast::tcp_stream>(std::move(socket), *ssl),
                                         &router, ctx)
            ->start();
      } else {
        std::make_shared<PlainHttpSession>(beast::tcp_stream(std::move(socket)), &router, ctx)->start();
      }
      accept();
    });
  }

  // Order matters: sessions left in the contexts are destroyed with the pool,
  // before the router and the TLS context they point to; the acceptor before
  // its context.
  ServingContext* ctx;
  std::unique_ptr<net::ssl::context> ssl;
  HttpRouter router;
  std::unique_ptr<IoContextPool> pool;
  std::optional<tcp::acceptor> acceptor;
};

HttpServer::HttpServer(ServingContext* ctx) : impl_(std::make_unique<Impl>(ctx)) {}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::start(const std::string& host, int port, int num_threads, const TlsConfig& tls) {
  Impl& s = *impl_;
  if (tls.enabled) {
    PAGODA_ASSIGN_OR_RETURN(s.ssl, make_ssl_context(tls));
  }
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return invalid_argument("--host '" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  s.pool = std::make_unique<IoContextPool>(num_threads);
  s.acceptor.emplace(s.pool->at(0));
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("http listener on " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = s.acceptor->local_endpoint().port();
  s.accept();
  s.pool->start("pagoda-http");
  return ok_status();
}

void HttpServer::stop() {
  Impl& s = *impl_;
  if (!s.pool) return;
  s.pool->stop();  // no handler runs after this: the acceptor is ours to close
  beast::error_code ec;
  if (s.acceptor) s.acceptor->close(ec);
}

}  // namespace pagoda::server
