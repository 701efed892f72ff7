#include "bench/client/metrics_scraper.h"

#include <algorithm>
#include <utility>

namespace pagoda::bench {

namespace {

// vLLM-compatible names (Pagoda, vLLM and SGLang's vLLM mode expose them),
// in order of preference. Counters are accepted with and without `_total`.
// Gauges: KV usage is a fraction (0-1) despite the "perc" in its name; across
// label sets (one series per model or engine) it is the largest, queue depths
// are summed.
constexpr std::string_view kKvCacheUsage[] = {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"};
constexpr std::string_view kWaiting[] = {"vllm:num_requests_waiting"};
constexpr std::string_view kRunning[] = {"vllm:num_requests_running"};
constexpr std::string_view kPreemptions[] = {"vllm:num_preemptions_total", "vllm:num_preemptions"};
constexpr std::string_view kPrefixQueries[] = {"vllm:prefix_cache_queries_total",
                                               "vllm:prefix_cache_queries"};
constexpr std::string_view kPrefixHits[] = {"vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits"};
constexpr std::string_view kPromptTokens[] = {"vllm:prompt_tokens_total", "vllm:prompt_tokens"};
constexpr std::string_view kGenerationTokens[] = {"vllm:generation_tokens_total", "vllm:generation_tokens"};

// A counter's increase over the run. A counter missing before but present
// after started at zero; one that went down was reset (server restart), so
// the increase is its value after, as Prometheus' increase() assumes.
double increase(const std::optional<double>& before, const std::optional<double>& after) {
  if (!after) return 0;
  double b = before.value_or(0);
  return *after >= b ? *after - b : *after;
}

}  // namespace

void MetricsScraper::GaugeStats::add(double v) {
  max = count == 0 ? v : std::max(max, v);
  sum += v;
  ++count;
}

MetricsScraper::MetricsScraper(std::string url, HttpGetOptions options)
    : url_text_(std::move(url)), options_(options) {}

MetricsScraper::~MetricsScraper() {
  stop_sampling();
}

StatusOr<std::vector<PromSample>> MetricsScraper::scrape(HttpCancelToken* cancel) {
  PAGODA_ASSIGN_OR_RETURN(HttpUrl url, parse_http_url(url_text_, "/metrics"));
  PAGODA_ASSIGN_OR_RETURN(std::string body, http_get(url, options_, cancel));
  int bad = 0;
  std::vector<PromSample> samples = parse_prometheus_text(body, &bad);
  std::lock_guard<std::mutex> lock(mu_);
  num_bad_lines_ += bad;
  return samples;
}

Status MetricsScraper::scrape_counters(std::optional<Counters>* out, std::string* error, const char* which) {
  StatusOr<std::vector<PromSample>> samples = scrape(nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  if (!samples.ok()) {
    out->reset();
    *error = std::string("scrape ") + which + " the run failed: " + samples.status().to_string();
    return samples.status().with_context(std::string("metrics scrape ") + which + " the run");
  }
  Counters c;
  c.preemptions = first_metric(*samples, kPreemptions);
  c.prefix_queries = first_metric(*samples, kPrefixQueries);
  c.prefix_hits = first_metric(*samples, kPrefixHits);
  c.prompt_tokens = first_metric(*samples, kPromptTokens);
  c.generation_tokens = first_metric(*samples, kGenerationTokens);
  *out = c;
  error->clear();
  return ok_status();
}

Status MetricsScraper::scrape_before() {
  return scrape_counters(&before_, &before_error_, "before");
}

Status MetricsScraper::scrape_after() {
  return scrape_counters(&after_, &after_error_, "after");
}

void MetricsScraper::start_sampling(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sampler_.joinable()) return;
  stop_ = false;
  cancel_.reset();
  interval = std::max(interval, std::chrono::milliseconds(1));
  sampler_ = std::thread([this, interval] { sampling_loop(interval); });
}

void MetricsScraper::stop_sampling() {
  std::thread sampler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    sampler = std::move(sampler_);
  }
  cancel_.cancel();  // interrupts a scrape in flight
  stop_cv_.notify_all();
  if (sampler.joinable()) sampler.join();
}

void MetricsScraper::sampling_loop(std::chrono::milliseconds interval) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto next = std::chrono::steady_clock::now() + interval;
    StatusOr<std::vector<PromSample>> samples = scrape(&cancel_);
    lock.lock();
    if (stop_) break;  // a scrape cut short (or finished) after the stop is not a sample of the run
    if (samples.ok()) {
      ++num_samples_;
      if (auto v = first_metric(*samples, kKvCacheUsage, PromAggregate::kMax)) kv_usage_.add(*v);
      if (auto v = first_metric(*samples, kWaiting)) waiting_.add(*v);
      if (auto v = first_metric(*samples, kRunning)) running_.add(*v);
    } else {
      ++num_failed_samples_;
    }
    stop_cv_.wait_until(lock, next, [this] { return stop_; });
  }
}

ServerView MetricsScraper::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  ServerView v;
  v.available = before_.has_value() && after_.has_value();
  if (!before_) {
    v.error = before_error_.empty() ? "no metrics scrape before the run" : before_error_;
  } else if (!after_) {
    v.error = after_error_.empty() ? "no metrics scrape after the run" : after_error_;
  }
  v.num_samples = num_samples_;
  v.kv_cache_usage_mean = kv_usage_.mean();
  v.kv_cache_usage_max = kv_usage_.max;
  v.num_waiting_mean = waiting_.mean();
  v.num_waiting_max = waiting_.max;
  v.num_running_mean = running_.mean();
  v.num_running_max = running_.max;
  if (v.available) {
    v.preemptions = increase(before_->preemptions, after_->preemptions);
    v.prefix_cache_queries = increase(before_->prefix_queries, after_->prefix_queries);
    v.prefix_cache_hits = increase(before_->prefix_hits, after_->prefix_hits);
    v.prefix_cache_hit_rate = v.prefix_cache_queries > 0 ? v.prefix_cache_hits / v.prefix_cache_queries : -1;
    v.prompt_tokens = increase(before_->prompt_tokens, after_->prompt_tokens);
    v.generation_tokens = increase(before_->generation_tokens, after_->generation_tokens);
  }
  return v;
}

std::int64_t MetricsScraper::num_failed_samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return num_failed_samples_;
}

std::int64_t MetricsScraper::num_bad_lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return num_bad_lines_;
}

}  // namespace pagoda::bench
