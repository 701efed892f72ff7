// A parser of the Prometheus text exposition format (version 0.0.4), for
// reading a benchmark target's /metrics page. The text comes from an untrusted
// server: malformed lines are skipped and counted, never fatal. Pure functions;
// any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pagoda::bench {

// One sample line: `name{label="value",...} value [timestamp_ms]`.
struct PromSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in line order, values unescaped
  double value = 0;                                         // may be NaN or +-inf
  std::optional<std::int64_t> timestamp_ms;

  // The value of label `key`, or nullptr.
  const std::string* label(std::string_view key) const;
};

// Parses a whole exposition. Blank lines, comments and well-formed `# HELP`
// and `# TYPE` lines produce no sample; every other line that does not parse
// (bad name, unterminated label value, duplicate label, bad number, trailing
// garbage, a `# TYPE` line naming no valid type) is skipped and counted in
// *num_bad_lines when it is not null. Accepts "\n" and "\r\n" line ends.
std::vector<PromSample> parse_prometheus_text(std::string_view text, int* num_bad_lines = nullptr);

// How samples of one metric name across label sets (one per model, engine,
// ...) combine into one number.
enum class PromAggregate { kSum, kMax };

// Combines the non-NaN samples named exactly `name`; nullopt when there are none.
std::optional<double> aggregate_metric(const std::vector<PromSample>& samples, std::string_view name,
                                       PromAggregate how = PromAggregate::kSum);
inline std::optional<double> sum_metric(const std::vector<PromSample>& samples, std::string_view name) {
  return aggregate_metric(samples, name, PromAggregate::kSum);
}

// The first of `names` present in `samples`, combined; for fallbacks between
// metric names (`vllm:kv_cache_usage_perc`, then `vllm:gpu_cache_usage_perc`).
std::optional<double> first_metric(const std::vector<PromSample>& samples,
                                   std::span<const std::string_view> names,
                                   PromAggregate how = PromAggregate::kSum);
inline std::optional<double> first_metric(const std::vector<PromSample>& samples,
                                          std::initializer_list<std::string_view> names,
                                          PromAggregate how = PromAggregate::kSum) {
  return first_metric(samples, std::span<const std::string_view>(names.begin(), names.size()), how);
}

}  // namespace pagoda::bench
