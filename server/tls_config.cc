#include "server/tls_config.h"

#include <grpcpp/security/server_credentials.h>
#include <boost/asio/ssl/context.hpp>

#include "base/mapped_file.h"

namespace pagoda::server {

StatusOr<TlsConfig> TlsConfig::load(const ServeOptions& options) {
  TlsConfig tls;
  if (options.tls_cert_file.empty()) return tls;
  tls.enabled = true;
  PAGODA_ASSIGN_OR_RETURN(tls.cert_pem, read_file(options.tls_cert_file));
  PAGODA_ASSIGN_OR_RETURN(tls.key_pem, read_file(options.tls_key_file));
  if (!options.tls_client_ca_file.empty()) {
    PAGODA_ASSIGN_OR_RETURN(tls.client_ca_pem, read_file(options.tls_client_ca_file));
    tls.verify_clients = true;
  }
  if (tls.cert_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return invalid_argument(options.tls_cert_file + ": not a PEM certificate");
  }
  if (tls.key_pem.find("PRIVATE KEY-----") == std::string::npos) {
    return invalid_argument(options.tls_key_file + ": not a PEM private key");
  }
  return tls;
}

std::shared_ptr<grpc::ServerCredentials> make_grpc_credentials(const TlsConfig& tls) {
  if (!tls.enabled) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(tls.verify_clients
                                            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_root_certs = tls.client_ca_pem;
  ssl.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
  return grpc::SslServerCredentials(ssl);
}

StatusOr<std::unique_ptr<boost::asio::ssl::context>> make_ssl_context(const TlsConfig& tls) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                   ec);
  if (ec) return internal_error("TLS options: " + ec.message());
  ctx->use_certificate_chain(boost::asio::buffer(tls.cert_pem), ec);
  if (ec) return invalid_argument("TLS certificate: " + ec.message());
  ctx->use_private_key(boost::asio::buffer(tls.key_pem), ssl::context::pem, ec);
  if (ec) return invalid_argument("TLS private key: " + ec.message());
  if (tls.verify_clients) {
    ctx->add_certificate_authority(boost::asio::buffer(tls.client_ca_pem), ec);
    if (ec) return invalid_argument("TLS client CA: " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return internal_error("TLS verify mode: " + ec.message());
  }
  return ctx;
}

}  // namespace pagoda::server
