#include "server/metrics.h"

#include <mutex>
#include <sstream>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "server/metric_family.h"

namespace pagoda::server {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Engine state, read on each scrape (the exposer's thread).
class EngineStatsCollectable final : public prometheus::Collectable {
 public:
  void set_source(std::function<std::optional<EngineStats>()> source) {
    std::lock_guard lock(mu_);
    source_ = std::move(source);
  }
  void set_model_name(std::string name) {
    std::lock_guard lock(mu_);
    model_name_ = std::move(name);
  }

  std::vector<MetricFamily> Collect() const override {
    std::optional<EngineStats> stats;
    std::string model;
    {
      std::lock_guard lock(mu_);
      if (source_) stats = source_();
      model = model_name_;
    }
    std::vector<MetricFamily> out;
    auto add = [&](const std::string& name, const std::string& help, MetricType type, double value,
                   std::vector<ClientMetric::Label> labels = {}) {
      out.push_back(single_sample_family(name, help, type, value, std::move(labels)));
    };
    auto both = [&](const std::string& suffix, const std::string& vllm_name, const std::string& help,
                    MetricType type, double value) {
      add("pagoda_" + suffix, help, type, value);
      if (!vllm_name.empty()) add("vllm:" + vllm_name, help, type, value, {{"model_name", model}});
    };
    add("pagoda_ready", "1 when the model is loaded and the server accepts requests", MetricType::Gauge,
        stats && !stats->draining ? 1.0 : 0.0);
    if (!stats) return out;
    const EngineStats& s = *stats;
    both("num_requests_running", "num_requests_running", "Requests in the running batch", MetricType::Gauge,
         s.num_running);
    both("num_requests_waiting", "num_requests_waiting", "Requests waiting to be scheduled",
         MetricType::Gauge, s.num_waiting);
    both("kv_cache_usage_ratio", "kv_cache_usage_perc", "Fraction of KV cache blocks in use (0-1)",
         MetricType::Gauge, s.kv_cache_usage);
    both("kv_cache_free_blocks", "", "Unreferenced KV cache blocks", MetricType::Gauge, s.num_free_blocks);
    both("prompt_tokens_total", "prompt_tokens_total", "Prompt tokens processed", MetricType::Counter,
         static_cast<double>(s.prompt_tokens_total));
    both("generation_tokens_total", "generation_tokens_total", "Output tokens generated", MetricType::Counter,
         static_cast<double>(s.generation_tokens_total));
    both("num_preemptions_total", "num_preemptions_total", "Requests preempted (recomputed later)",
         MetricType::Counter, static_cast<double>(s.num_preemptions));
    both("prefix_cache_queries_total", "prefix_cache_queries_total",
         "Prompt tokens looked up in the prefix cache", MetricType::Counter,
         static_cast<double>(s.prefix_cache_query_tokens));
    both("prefix_cache_hits_total", "prefix_cache_hits_total", "Prompt tokens found in the prefix cache",
         MetricType::Counter, static_cast<double>(s.prefix_cache_hit_tokens));
    both("engine_steps_total", "", "Model steps run", MetricType::Counter, static_cast<double>(s.num_steps));
    both("engine_model_steps_total", "", "Steps that ran the model", MetricType::Counter,
         static_cast<double>(s.num_model_steps));
    both("engine_model_seconds_total", "", "Wall time inside the model runner (forward pass and sampling)",
         MetricType::Counter, s.model_seconds);
    both("draining", "", "1 while the server is draining", MetricType::Gauge, s.draining ? 1.0 : 0.0);
    std::vector<ClientMetric::Label> cache_labels = {{"block_size", std::to_string(s.block_size)},
                                                     {"num_blocks", std::to_string(s.num_blocks)}};
    add("pagoda_cache_config_info", "KV cache geometry", MetricType::Gauge, 1.0, cache_labels);
    cache_labels = {{"block_size", std::to_string(s.block_size)},
                    {"num_gpu_blocks", std::to_string(s.num_blocks)},
                    {"model_name", model}};
    add("vllm:cache_config_info", "KV cache geometry", MetricType::Gauge, 1.0, cache_labels);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::function<std::optional<EngineStats>()> source_;
  std::string model_name_;
};

namespace {

using Buckets = prometheus::Histogram::BucketBoundaries;

const Buckets kLatencyBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,  0.75,
                                 1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0};
const Buckets kItlBuckets = {0.001, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075,
                             0.1,   0.15,  0.2,  0.3,   0.4,  0.5,   0.75, 1.0,  2.5,  5.0};
const Buckets kTokenBuckets = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000};

// A histogram under both names.
struct DualHistogram {
  prometheus::Family<prometheus::Histogram>* pagoda = nullptr;
  prometheus::Family<prometheus::Histogram>* vllm = nullptr;
  Buckets buckets;
};

}  // namespace

struct MetricFamilies {
  DualHistogram ttft, itl, e2e, queue, prompt_len, output_len;
  prometheus::Family<prometheus::Counter>* success = nullptr;
  prometheus::Family<prometheus::Counter>* vllm_success = nullptr;
  prometheus::Family<prometheus::Counter>* tenant_requests = nullptr;
  prometheus::Family<prometheus::Counter>* tenant_prompt_tokens = nullptr;
  prometheus::Family<prometheus::Counter>* tenant_generation_tokens = nullptr;
  prometheus::Family<prometheus::Counter>* calls = nullptr;
  std::mutex mu;  // guards model_name
  std::string model_name;
};

namespace {

DualHistogram make_dual(prometheus::Registry& r, const std::string& pagoda_name, const std::string& vllm_name,
                        const std::string& help, const Buckets& buckets) {
  DualHistogram h;
  h.pagoda = &prometheus::BuildHistogram().Name("pagoda_" + pagoda_name).Help(help).Register(r);
  h.vllm = &prometheus::BuildHistogram().Name("vllm:" + vllm_name).Help(help).Register(r);
  h.buckets = buckets;
  return h;
}

void observe(MetricFamilies& f, DualHistogram& h, double value) {
  std::string model;
  {
    std::lock_guard lock(f.mu);
    model = f.model_name;
  }
  h.pagoda->Add({}, h.buckets).Observe(value);
  h.vllm->Add({{"model_name", model}}, h.buckets).Observe(value);
}

}  // namespace

ServerMetrics::ServerMetrics(std::string model_name)
    : families_(std::make_unique<MetricFamilies>()),
      registry_(std::make_shared<prometheus::Registry>()),
      engine_collectable_(std::make_shared<EngineStatsCollectable>()) {
  auto& r = *registry_;
  MetricFamilies& f = *families_;
  f.model_name = model_name;
  engine_collectable_->set_model_name(std::move(model_name));
  f.ttft = make_dual(r, "time_to_first_token_seconds", "time_to_first_token_seconds",
                     "Time from arrival to the first output token", kLatencyBuckets);
  f.itl = make_dual(r, "inter_token_latency_seconds", "inter_token_latency_seconds",
                    "Time between consecutive output tokens", kItlBuckets);
  f.e2e = make_dual(r, "e2e_request_latency_seconds", "e2e_request_latency_seconds",
                    "Time from arrival to the last output token", kLatencyBuckets);
  f.queue = make_dual(r, "request_queue_time_seconds", "request_queue_time_seconds",
                      "Time from arrival to first scheduled", kLatencyBuckets);
  f.prompt_len = make_dual(r, "request_prompt_tokens", "request_prompt_tokens", "Prompt length in tokens",
                           kTokenBuckets);
  f.output_len = make_dual(r, "request_generation_tokens", "request_generation_tokens",
                           "Output length in tokens", kTokenBuckets);
  f.success = &prometheus::BuildCounter()
                   .Name("pagoda_request_success_total")
                   .Help("Finished requests by finish reason")
                   .Register(r);
  f.vllm_success = &prometheus::BuildCounter()
                        .Name("vllm:request_success_total")
                        .Help("Finished requests by finish reason")
                        .Register(r);
  f.tenant_requests = &prometheus::BuildCounter()
                           .Name("pagoda_tenant_requests_total")
                           .Help("Finished engine requests per tenant and finish reason")
                           .Register(r);
  f.tenant_prompt_tokens = &prometheus::BuildCounter()
                                .Name("pagoda_tenant_prompt_tokens_total")
                                .Help("Prompt tokens per tenant")
                                .Register(r);
  f.tenant_generation_tokens = &prometheus::BuildCounter()
                                    .Name("pagoda_tenant_generation_tokens_total")
                                    .Help("Output tokens per tenant")
                                    .Register(r);
  f.calls = &prometheus::BuildCounter()
                 .Name("pagoda_api_calls_total")
                 .Help("Front-end calls by API, route and status code")
                 .Register(r);
}

ServerMetrics::~ServerMetrics() {
  exposer_.reset();
}

void ServerMetrics::set_stats_source(std::function<std::optional<EngineStats>()> source) {
  engine_collectable_->set_source(std::move(source));
}

void ServerMetrics::set_model_name(std::string model_name) {
  {
    std::lock_guard lock(families_->mu);
    families_->model_name = model_name;
  }
  engine_collectable_->set_model_name(std::move(model_name));
}

Status ServerMetrics::start_exposer(const std::string& host, int port) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(host + ":" + std::to_string(port));
  } catch (const std::exception& e) {
    return unavailable("metrics listener on " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(engine_collectable_);
  auto ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
  return ok_status();
}

std::string ServerMetrics::serialize() const {
  std::vector<MetricFamily> families = registry_->Collect();
  for (MetricFamily& f : engine_collectable_->Collect())
    families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

void ServerMetrics::observe_outcome(const Outcome& o) {
  MetricFamilies& f = *families_;
  std::string reason(finish_reason_name(o.finish_reason));
  std::string model;
  {
    std::lock_guard lock(f.mu);
    model = f.model_name;
  }
  std::string tenant = o.tenant.empty() ? "default" : o.tenant;
  f.success->Add({{"finished_reason", reason}}).Increment();
  f.vllm_success->Add({{"finished_reason", reason}, {"model_name", model}}).Increment();
  f.tenant_requests->Add({{"tenant", tenant}, {"finished_reason", reason}}).Increment();
  f.tenant_prompt_tokens->Add({{"tenant", tenant}}).Increment(o.prompt_tokens);
  f.tenant_generation_tokens->Add({{"tenant", tenant}}).Increment(o.completion_tokens);
  observe(f, f.e2e, o.e2e_ms / 1000.0);
  observe(f, f.queue, o.queue_ms / 1000.0);
  if (o.produced_token) observe(f, f.ttft, o.ttft_ms / 1000.0);
  observe(f, f.prompt_len, o.prompt_tokens);
  observe(f, f.output_len, o.completion_tokens);
}

void ServerMetrics::observe_inter_token_latency(double seconds) {
  observe(*families_, families_->itl, seconds);
}

void ServerMetrics::count_call(const std::string& api, const std::string& route, const std::string& code,
                               const std::string& tenant) {
  families_->calls
      ->Add({{"api", api}, {"route", route}, {"code", code}, {"tenant", tenant.empty() ? "none" : tenant}})
      .Increment();
}

void ChoiceMetrics::on_event(const StreamEvent& event, const std::string& tenant, ServerMetrics* metrics) {
  if (metrics == nullptr) return;
  for (double t : event.timings.token_times_ms) {
    if (last_token_ms_ >= 0.0 && t >= last_token_ms_)
      metrics->observe_inter_token_latency((t - last_token_ms_) / 1000.0);
    last_token_ms_ = t;
  }
  if (!event.finished) return;
  ServerMetrics::Outcome o;
  o.tenant = tenant;
  o.finish_reason = event.finish_reason;
  o.prompt_tokens = event.usage.prompt_tokens;
  o.completion_tokens = event.usage.completion_tokens;
  o.queue_ms = event.timings.queue_ms;
  o.ttft_ms = event.timings.time_to_first_token_ms;
  o.e2e_ms = event.timings.e2e_ms;
  o.produced_token = event.usage.completion_tokens > 0;
  metrics->observe_outcome(o);
}

}  // namespace pagoda::server
