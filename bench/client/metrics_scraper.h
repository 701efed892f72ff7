// MetricsScraper: reads the benchmark target's Prometheus endpoint before,
// periodically during, and after a run, and turns vLLM-compatible metric names
// into a ServerView. Names read (first present wins; series of one name, e.g.
// one per model, are summed except KV usage, whose largest series is taken):
//   gauges, mean and max over the samples during the run:
//     vllm:kv_cache_usage_perc (else vllm:gpu_cache_usage_perc; a 0-1 fraction),
//     vllm:num_requests_waiting, vllm:num_requests_running;
//   counters, increase = after - before (a reset counts from zero), each with
//   or without `_total`: vllm:num_preemptions, vllm:prefix_cache_queries,
//     vllm:prefix_cache_hits, vllm:prompt_tokens, vllm:generation_tokens.
//
// Threads: one controlling thread calls scrape_before, start_sampling,
// stop_sampling and scrape_after, in that order; start_sampling runs one
// background thread that only scrapes and records gauges. view() may be called
// from any thread at any time (state is guarded by a mutex). The destructor
// stops the background thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "bench/client/http_get.h"
#include "bench/client/prometheus_text.h"
#include "bench/client/server_view.h"

namespace pagoda::bench {

class MetricsScraper {
 public:
  // `url` is "http://host:port/metrics" ("http://host:port" means /metrics).
  // It is checked by each scrape: a bad URL or another scheme than http makes
  // every scrape fail with INVALID_ARGUMENT.
  explicit MetricsScraper(std::string url, HttpGetOptions options = {});
  ~MetricsScraper();
  MetricsScraper(const MetricsScraper&) = delete;
  MetricsScraper& operator=(const MetricsScraper&) = delete;

  // Records the counters at the start of the run.
  Status scrape_before();
  // Starts a background thread scraping every `interval` (the first scrape at
  // once) and recording the gauges. Failed scrapes are counted, not fatal.
  // No-op when already sampling.
  void start_sampling(std::chrono::milliseconds interval);
  // Stops and joins the background thread promptly: it interrupts a scrape in
  // flight and never sleeps past the stop. Idempotent.
  void stop_sampling();
  // Records the counters at the end of the run.
  Status scrape_after();

  // What the scrapes so far say. available is true once before and after
  // both succeeded; error says why not otherwise.
  ServerView view() const;
  // Scrapes during the run that failed (connection errors, timeouts).
  std::int64_t num_failed_samples() const;
  // Malformed lines seen across all scrapes.
  std::int64_t num_bad_lines() const;

 private:
  struct Counters {
    std::optional<double> preemptions, prefix_queries, prefix_hits, prompt_tokens, generation_tokens;
  };
  struct GaugeStats {
    std::int64_t count = 0;
    double sum = 0, max = 0;
    void add(double v);
    double mean() const { return count > 0 ? sum / static_cast<double>(count) : 0; }
  };

  // One GET + parse; `cancel` (may be null) lets stop_sampling interrupt it.
  StatusOr<std::vector<PromSample>> scrape(HttpCancelToken* cancel);
  Status scrape_counters(std::optional<Counters>* out, std::string* error, const char* which);
  void sampling_loop(std::chrono::milliseconds interval);

  const std::string url_text_;
  const HttpGetOptions options_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  HttpCancelToken cancel_;
  std::thread sampler_;
  std::optional<Counters> before_, after_;
  std::string before_error_, after_error_;
  GaugeStats kv_usage_, waiting_, running_;
  std::int64_t num_samples_ = 0;
  std::int64_t num_failed_samples_ = 0;
  std::int64_t num_bad_lines_ = 0;
};

}  // namespace pagoda::bench
