#include "server/http_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>

#include "base/thread_name.h"
#include "server/http_session.h"
#include "server/logging.h"

namespace pagoda::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  explicit Impl(ServingContext* c) : ctx(c), router(c), acceptor(ioc) {}

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
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

  // Order matters: sessions left in the io_context are destroyed with it, before the TLS context.
  ServingContext* ctx;
  std::unique_ptr<net::ssl::context> ssl;
  net::io_context ioc;
  HttpRouter router;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
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
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("http listener on " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = s.acceptor.local_endpoint().port();
  s.accept();
  for (int i = 0; i < num_threads; ++i)
    s.threads.emplace_back([&s] {
      set_current_thread_name("pagoda-http");
      s.ioc.run();
    });
  return ok_status();
}

void HttpServer::stop() {
  Impl& s = *impl_;
  if (s.threads.empty()) return;
  net::post(s.ioc, [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
  });
  s.ioc.stop();
  for (std::thread& t : s.threads)
    t.join();
  s.threads.clear();
}

}  // namespace pagoda::server
