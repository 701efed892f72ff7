#include "server/serving_context.h"

#include <random>

namespace pagoda::server {

ServingContext::ServingContext(ServeOptions options, ApiKeys api_keys, ServerMetrics* metrics)
    : options_(std::move(options)), api_keys_(std::move(api_keys)), metrics_(metrics) {
  std::random_device rd;
  id_salt_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

void ServingContext::attach(Engine* engine, std::shared_ptr<const Tokenizer> tokenizer,
                            std::optional<ChatTemplate> chat_template, std::string model_name) {
  engine_ = engine;
  tokenizer_ = std::move(tokenizer);
  chat_template_ = std::move(chat_template);
  model_name_ = std::move(model_name);
}

Status ServingContext::check_ready() const {
  switch (phase()) {
    case ServingPhase::kReady:
      return engine_ != nullptr ? engine_->runner_health() : ok_status();
    case ServingPhase::kLoading:
      return unavailable("the model is loading; retry shortly");
    case ServingPhase::kDraining:
    case ServingPhase::kStopped:
      return unavailable("the server is shutting down");
  }
  return unavailable("the server is not ready");
}

std::string ServingContext::next_request_id(const char* prefix) {
  std::uint64_t n = next_id_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t mixed = (n * 0x9E3779B97F4A7C15ull) ^ id_salt_;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%llu-%08llx", prefix, static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(mixed & 0xffffffffull));
  return buf;
}

void ServingContext::call_started() {
  std::lock_guard lock(calls_mu_);
  ++calls_in_flight_;
}

void ServingContext::call_finished() {
  std::lock_guard lock(calls_mu_);
  if (--calls_in_flight_ == 0) calls_cv_.notify_all();
}

int ServingContext::calls_in_flight() const {
  std::lock_guard lock(calls_mu_);
  return calls_in_flight_;
}

bool ServingContext::wait_until_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(calls_mu_);
  return calls_cv_.wait_for(lock, timeout, [this] { return calls_in_flight_ == 0; });
}

}  // namespace pagoda::server
