// HttpExchange: one HTTP request and its response as handlers see them,
// independent of plain TCP or TLS. Implemented by HttpSession. The response
// methods must be called on the session's strand (executor()); engine threads
// post there.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>

#include "server/http_request.h"
#include "server/logging.h"

namespace pagoda::server {

class HttpExchange {
 public:
  virtual ~HttpExchange() = default;

  virtual const HttpRequest& request() const = 0;
  virtual std::string peer() const = 0;
  // The strand every call below runs on.
  virtual boost::asio::any_io_executor executor() = 0;

  // A complete response.
  virtual void respond(unsigned status, std::string body,
                       std::string_view content_type = "application/json") = 0;
  // A server-sent-events response: headers now, then one event per send_sse
  // ("data: <data>\n\n", flushed at once), then end_sse.
  virtual void start_sse() = 0;
  virtual void send_sse(std::string_view data) = 0;
  virtual void end_sse() = 0;

  // Called once (on the strand) if the client goes away before the response is complete.
  virtual void on_disconnect(std::function<void()> callback) = 0;
  virtual bool disconnected() const = 0;

  // Filled by handlers (request id, tenant, tokens); the session logs it when the response ends.
  virtual AccessRecord& access() = 0;
};

}  // namespace pagoda::server
