// What the HTTP front end does with a request before a handler runs, as pure
// functions over the request (no socket, no session): the parser's header and
// body caps, the reply to bytes that do not parse, the routing, method,
// authentication, readiness and JSON body checks, and the /tokenize and
// /detokenize bodies. HttpSession and HttpRouter use these; so does the HTTP
// request fuzzer, which feeds raw bytes through the same parser configuration.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "base/status.h"
#include "server/serve_options.h"
#include "server/serving_context.h"

namespace pagoda::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpRequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Caps a fresh parser at limits.max_header_bytes (request line + headers) and
// limits.max_body_bytes.
void apply_request_limits(HttpRequestParser& parser, const RequestLimits& limits);

// A response the front end sends without running a handler.
struct HttpReply {
  unsigned status = 200;
  std::string body;   // JSON
  std::string error;  // the message for the access log ("" when none)
};

// The reply to a request that failed to read with `ec` (not a transport
// error): 413 past the body cap, 431 past the header cap, 400 otherwise.
HttpReply read_error_reply(boost::beast::error_code ec, const RequestLimits& limits);

// An error in OpenAI's shape, with the HTTP status of its code.
HttpReply error_reply(const Status& status);

enum class HttpRoute { kNone, kChat, kCompletions, kModels, kTokenize, kDetokenize };

// A request after routing: either `reply` (health, unknown route, wrong
// method, authentication, readiness or body errors), or the route to run with
// the caller's tenant and the parsed JSON body (null for GET /v1/models).
struct RoutedRequest {
  std::string access_route;  // the path (or "unknown") for the access log
  std::string tenant;        // set once authenticated
  std::optional<HttpReply> reply;
  HttpRoute route = HttpRoute::kNone;
  nlohmann::ordered_json body;
};
RoutedRequest route_request(const HttpRequest& request, const ServingContext& ctx);

// Parses a JSON request body with a nesting cap; INVALID_ARGUMENT when malformed.
StatusOr<nlohmann::ordered_json> parse_json_body(std::string_view body, int max_depth);

// The response bodies of POST /tokenize and POST /detokenize.
StatusOr<nlohmann::ordered_json> tokenize_json(const nlohmann::ordered_json& body, const ServingContext& ctx);
StatusOr<nlohmann::ordered_json> detokenize_json(const nlohmann::ordered_json& body,
                                                 const ServingContext& ctx);

}  // namespace pagoda::server
