// ServingContext: what both front ends share — the serving phase (loading,
// ready, draining), the engine once loaded, tokenizer and chat template,
// API keys, limits, metrics, the request registry and the count of calls in
// flight. Created by the Server before the listeners start; every method is
// thread-safe (the engine pointers are published once, before kReady).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/chat/chat_template.h"
#include "engine/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/api_keys.h"
#include "server/metrics.h"
#include "server/request_registry.h"
#include "server/serve_options.h"

namespace pagoda::server {

enum class ServingPhase : int { kLoading, kReady, kDraining, kStopped };

class ServingContext {
 public:
  ServingContext(ServeOptions options, ApiKeys api_keys, ServerMetrics* metrics);

  // Publishes the loaded model; call once, before set_phase(kReady).
  void attach(Engine* engine, std::shared_ptr<const Tokenizer> tokenizer,
              std::optional<ChatTemplate> chat_template, std::string model_name);

  ServingPhase phase() const { return phase_.load(std::memory_order_acquire); }
  void set_phase(ServingPhase phase) { phase_.store(phase, std::memory_order_release); }
  // OK when ready; UNAVAILABLE with the reason (loading, draining) otherwise.
  Status check_ready() const;

  // Valid once phase() has been kReady (the engine stays until the server stops).
  Engine& engine() const { return *engine_; }
  bool has_engine() const { return phase() != ServingPhase::kLoading && engine_ != nullptr; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ChatTemplate* chat_template() const { return chat_template_ ? &*chat_template_ : nullptr; }
  const std::string& model_name() const { return model_name_; }

  const ServeOptions& options() const { return options_; }
  const RequestLimits& limits() const { return options_.limits; }
  const ApiKeys& api_keys() const { return api_keys_; }
  ServerMetrics* metrics() const { return metrics_; }
  RequestRegistry& registry() { return registry_; }

  // A server-assigned request id: prefix + a process-unique counter + random bits.
  std::string next_request_id(const char* prefix);

  // Front-end calls that have been accepted and not yet answered in full.
  void call_started();
  void call_finished();
  int calls_in_flight() const;
  // Waits until no call is in flight; false on timeout.
  bool wait_until_idle(std::chrono::milliseconds timeout);

 private:
  ServeOptions options_;
  ApiKeys api_keys_;
  ServerMetrics* metrics_;
  std::atomic<ServingPhase> phase_{ServingPhase::kLoading};
  Engine* engine_ = nullptr;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::optional<ChatTemplate> chat_template_;
  std::string model_name_;
  RequestRegistry registry_;
  std::atomic<std::uint64_t> next_id_{1};
  std::uint64_t id_salt_;
  mutable std::mutex calls_mu_;
  std::condition_variable calls_cv_;
  int calls_in_flight_ = 0;
};

// Counts a call as in flight for its lifetime.
class CallGuard {
 public:
  explicit CallGuard(ServingContext* ctx) : ctx_(ctx) { ctx_->call_started(); }
  ~CallGuard() {
    if (ctx_ != nullptr) ctx_->call_finished();
  }
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;

 private:
  ServingContext* ctx_;
};

}  // namespace pagoda::server
