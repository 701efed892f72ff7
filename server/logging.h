// Server logging on spdlog: human-readable text or JSON lines on stderr, and
// the one-line-per-request access log. Configured once at start-up; the log
// functions are thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace pagoda::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// format: "text" or "json"; level: "debug", "info", "warn", "error", "off".
Status configure_logging(const std::string& format, const std::string& level);

// One log line: `message` plus structured fields (text: k=v after the message).
void log_line(LogLevel level, std::string_view message,
              const nlohmann::json& fields = nlohmann::json::object());

// What the access log records when a front-end call ends.
struct AccessRecord {
  std::string api;    // "grpc" or "http"
  std::string route;  // "/v1/chat/completions", "Generate", ...
  std::string request_id;
  std::string tenant;
  std::string peer;
  int http_status = 0;    // HTTP status, or 0 for gRPC
  std::string grpc_code;  // gRPC code name, or "" for HTTP
  std::string finish_reason;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double latency_ms = 0;
  std::string error;
};

void log_access(const AccessRecord& record);
void set_access_log_enabled(bool enabled);

}  // namespace pagoda::server
