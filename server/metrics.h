// ServerMetrics: Prometheus metrics of the server under `pagoda_` names and
// vLLM's `vllm:` names. Engine gauges and counters are read from
// Engine::stats() at scrape time; histograms and per-tenant counters are fed
// from StreamEvents by the front ends. Every method is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/engine.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace pagoda::server {

class EngineStatsCollectable;
struct MetricFamilies;

class ServerMetrics {
 public:
  explicit ServerMetrics(std::string model_name);
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Where scrapes read engine state; returns nullopt while no engine exists.
  void set_stats_source(std::function<std::optional<EngineStats>()> source);
  void set_model_name(std::string model_name);

  // Serves /metrics on host:port (0 picks a port). Without it the metrics are
  // still kept (and readable through serialize()).
  Status start_exposer(const std::string& host, int port);
  int port() const { return port_; }

  // Prometheus text exposition of everything (what a scrape returns).
  std::string serialize() const;

  // One engine request (a choice) ended.
  struct Outcome {
    std::string tenant;
    FinishReason finish_reason = FinishReason::kNone;
    std::int32_t prompt_tokens = 0;
    std::int32_t completion_tokens = 0;
    double queue_ms = 0, ttft_ms = 0, e2e_ms = 0;
    bool produced_token = false;  // ttft is meaningful
  };
  void observe_outcome(const Outcome& outcome);
  void observe_inter_token_latency(double seconds);
  // A front-end call ended (api "grpc"/"http", its route and status code).
  void count_call(const std::string& api, const std::string& route, const std::string& code,
                  const std::string& tenant);

 private:
  std::unique_ptr<MetricFamilies> families_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<EngineStatsCollectable> engine_collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// Follows one choice's StreamEvents to feed the inter-token histogram and the
// outcome on the final event. Used by the thread that handles the choice.
class ChoiceMetrics {
 public:
  void on_event(const StreamEvent& event, const std::string& tenant, ServerMetrics* metrics);

 private:
  double last_token_ms_ = -1.0;
};

}  // namespace pagoda::server
