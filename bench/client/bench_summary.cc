#include "bench/client/bench_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "base/strings.h"

namespace pagoda::bench {
namespace {

// Linear interpolation between order statistics of sorted values (numpy "linear").
double percentile_of_sorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(rank));
  std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

// "500ms" / "2s" / "50" (ms) -> milliseconds.
StatusOr<double> parse_duration_ms(const std::string& key, const std::string& text) {
  std::string number = text;
  double scale = 1.0;
  if (text.size() > 2 && text.ends_with("ms")) {
    number = text.substr(0, text.size() - 2);
  } else if (text.size() > 1 && text.ends_with("s")) {
    number = text.substr(0, text.size() - 1);
    scale = 1000.0;
  }
  char* end = nullptr;
  double v = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(v) || v <= 0)
    return invalid_argument("--slo " + key + ": '" + text + "' is not a positive duration like 500ms or 2s");
  return v * scale;
}

}  // namespace

StatusOr<Slo> parse_slo(const std::string& text) {
  Slo slo;
  for (std::string_view view : split(text, ',')) {
    std::string item(trim(view));
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    if (eq == std::string::npos)
      return invalid_argument("--slo: '" + item + "' is not KEY=DURATION (keys: ttft, tpot, itl, e2e)");
    std::string key = item.substr(0, eq);
    PAGODA_ASSIGN_OR_RETURN(double ms, parse_duration_ms(key, item.substr(eq + 1)));
    if (key == "ttft") {
      slo.ttft_ms = ms;
    } else if (key == "tpot") {
      slo.tpot_ms = ms;
    } else if (key == "itl") {
      slo.itl_ms = ms;
    } else if (key == "e2e" || key == "e2el") {
      slo.e2e_ms = ms;
    } else {
      return invalid_argument("--slo: unknown metric '" + key + "' (ttft, tpot, itl, e2e)");
    }
  }
  return slo;
}

StatusOr<std::vector<double>> parse_percentiles(const std::string& text) {
  std::vector<double> out;
  for (std::string_view view : split(text, ',')) {
    std::string item(trim(view));
    if (item.empty()) continue;
    char* end = nullptr;
    double p = std::strtod(item.c_str(), &end);
    if (end != item.c_str() + item.size() || !(p > 0 && p <= 100))
      return invalid_argument("--percentiles: '" + item + "' is not a number in (0, 100]");
    out.push_back(p);
  }
  return out;
}

Distribution distribution(std::vector<double> values_ms, const std::vector<double>& percentiles) {
  Distribution d;
  d.count = static_cast<std::int64_t>(values_ms.size());
  for (double p : percentiles)
    d.percentiles.emplace_back(p, 0.0);
  if (values_ms.empty()) return d;
  std::sort(values_ms.begin(), values_ms.end());
  double n = static_cast<double>(values_ms.size());
  d.mean = std::accumulate(values_ms.begin(), values_ms.end(), 0.0) / n;
  double sq = 0;
  for (double v : values_ms)
    sq += (v - d.mean) * (v - d.mean);
  d.stddev = std::sqrt(sq / n);
  d.min = values_ms.front();
  d.max = values_ms.back();
  d.median = percentile_of_sorted(values_ms, 50);
  for (auto& [p, value] : d.percentiles)
    value = percentile_of_sorted(values_ms, p);
  return d;
}

BenchSummary summarize(const std::vector<RequestRecord>& records, double duration_s,
                       const std::vector<double>& percentiles, const Slo& slo) {
  BenchSummary s;
  s.duration_s = duration_s;
  s.slo = slo;
  std::vector<double> ttft, tpot, itl, e2e;
  for (const RequestRecord& r : records) {
    if (r.warmup) continue;
    if (!r.ok) {
      ++s.failed;
      ++s.errors[r.error_kind.empty() ? "unknown" : r.error_kind];
      continue;
    }
    ++s.completed;
    std::int32_t out = r.output_tokens();
    s.total_input_tokens += r.usage_prompt_tokens >= 0 ? r.usage_prompt_tokens : r.prompt_tokens;
    s.total_output_tokens += out;
    if (r.usage_completion_tokens >= 0) {
      ++s.usage_reported;
      if (r.usage_completion_tokens != r.stream_tokens) ++s.usage_mismatches;
    }
    double e2e_ms = r.e2e_s * 1000.0;
    e2e.push_back(e2e_ms);
    double ttft_ms = r.ttft_s >= 0 ? r.ttft_s * 1000.0 : -1;
    if (ttft_ms >= 0) ttft.push_back(ttft_ms);
    double tpot_ms = -1;
    if (out > 1 && ttft_ms >= 0) {
      tpot_ms = (e2e_ms - ttft_ms) / static_cast<double>(out - 1);
      tpot.push_back(tpot_ms);
    }
    double worst_itl_ms = 0;
    for (double gap : r.itl_s) {
      itl.push_back(gap * 1000.0);
      worst_itl_ms = std::max(worst_itl_ms, gap * 1000.0);
    }
    if (slo.any()) {
      bool good = true;
      if (slo.ttft_ms > 0 && !(ttft_ms >= 0 && ttft_ms <= slo.ttft_ms)) good = false;
      if (slo.tpot_ms > 0 && tpot_ms > slo.tpot_ms) good = false;
      if (slo.itl_ms > 0 && worst_itl_ms > slo.itl_ms) good = false;
      if (slo.e2e_ms > 0 && e2e_ms > slo.e2e_ms) good = false;
      if (good) ++s.good_requests;
    }
  }
  s.ttft_ms = distribution(std::move(ttft), percentiles);
  s.tpot_ms = distribution(std::move(tpot), percentiles);
  s.itl_ms = distribution(std::move(itl), percentiles);
  s.e2e_ms = distribution(std::move(e2e), percentiles);
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / duration_s;
    s.input_throughput = static_cast<double>(s.total_input_tokens) / duration_s;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / duration_s;
    s.total_throughput = s.input_throughput + s.output_throughput;
    if (slo.any()) s.goodput = static_cast<double>(s.good_requests) / duration_s;
  }
  return s;
}

}  // namespace pagoda::bench
