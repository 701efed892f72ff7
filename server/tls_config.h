// TlsConfig: the server's certificate, key and (for mutual TLS) client CA,
// read once at start-up, and the credentials built from them for gRPC and for
// the HTTPS listener. Immutable after load; any thread.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "server/serve_options.h"

namespace grpc {
class ServerCredentials;
}
namespace boost::asio::ssl {
class context;
}

namespace pagoda::server {

struct TlsConfig {
  bool enabled = false;
  bool verify_clients = false;  // mTLS: a client certificate signed by client_ca_pem is required
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;

  // Reads the files named in the options; disabled when no certificate is given.
  static StatusOr<TlsConfig> load(const ServeOptions& options);
};

// Insecure credentials when TLS is disabled.
std::shared_ptr<grpc::ServerCredentials> make_grpc_credentials(const TlsConfig& tls);

// A TLS 1.2+ server context for the HTTPS listener (TLS must be enabled).
StatusOr<std::unique_ptr<boost::asio::ssl::context>> make_ssl_context(const TlsConfig& tls);

}  // namespace pagoda::server
