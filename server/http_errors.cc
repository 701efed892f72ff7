#include "server/http_errors.h"

#include <nlohmann/json.hpp>

namespace pagoda::server {

unsigned http_status_of(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string_view openai_error_type(unsigned s) {
  switch (s) {
    case 400:
    case 405:
    case 409:
    case 411:
    case 413:
    case 415:
    case 431:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 499:
      return "cancelled";
    case 503:
      return "service_unavailable";
    case 504:
      return "timeout_error";
    default:
      return "internal_error";
  }
}

std::string openai_error_body(unsigned http_status, std::string_view message, std::string_view param) {
  nlohmann::json e = {{"message", message},
                      {"type", openai_error_type(http_status)},
                      {"param", param.empty() ? nlohmann::json() : nlohmann::json(param)},
                      {"code", http_status}};
  return nlohmann::json{{"error", e}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string param_of(const Status& status) {
  const std::string& m = status.message();
  std::size_t colon = m.find(": ");
  if (colon == std::string::npos || colon == 0 || colon > 64) return "";
  for (std::size_t i = 0; i < colon; ++i) {
    char c = m[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '[' || c == ']';
    if (!ok) return "";
  }
  return m.substr(0, colon);
}

}  // namespace pagoda::server
