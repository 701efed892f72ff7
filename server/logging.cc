#include "server/logging.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace pagoda::server {
namespace {

std::atomic<bool> g_json{false};
std::atomic<bool> g_access_log{true};

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = std::make_shared<spdlog::logger>("pagoda", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return instance;
}

std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

Status configure_logging(const std::string& format, const std::string& level) {
  if (format != "text" && format != "json") return invalid_argument("--log-format must be text or json");
  g_json = format == "json";
  spdlog::level::level_enum l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off") {
    return invalid_argument("--log-level must be debug, info, warn, error or off");
  }
  logger()->set_level(l);
  return ok_status();
}

void log_line(LogLevel level, std::string_view message, const nlohmann::json& fields) {
  auto l = logger();
  if (!l->should_log(to_spdlog(level))) return;
  std::string line;
  if (g_json) {
    nlohmann::json j = {{"time", now_iso8601()}, {"level", level_name(level)}, {"msg", message}};
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items())
        j[k] = v;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = now_iso8601() + " " + level_name(level) + " " + std::string(message);
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) {
        line += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
  }
  l->log(to_spdlog(level), "{}", line);
}

void set_access_log_enabled(bool enabled) {
  g_access_log = enabled;
}

void log_access(const AccessRecord& r) {
  if (!g_access_log) return;
  nlohmann::json f = {
      {"api", r.api},
      {"route", r.route},
      {"id", r.request_id},
      {"tenant", r.tenant},
      {"peer", r.peer},
      {"prompt_tokens", r.prompt_tokens},
      {"completion_tokens", r.completion_tokens},
      {"latency_ms", static_cast<double>(static_cast<std::int64_t>(r.latency_ms * 10)) / 10.0}};
  if (r.http_status != 0) f["status"] = r.http_status;
  if (!r.grpc_code.empty()) f["status"] = r.grpc_code;
  if (!r.finish_reason.empty()) f["finish_reason"] = r.finish_reason;
  if (!r.error.empty()) f["error"] = r.error;
  log_line(LogLevel::kInfo, "access", f);
}

}  // namespace pagoda::server
