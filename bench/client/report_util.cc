#include "bench/client/report_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace pagoda::bench {

std::string percentile_name(double p) {
  std::string name = "p";
  name += format_shortest(p);
  return name;
}

std::optional<double> percentile_of(const Distribution& d, double p) {
  for (const auto& [q, v] : d.percentiles)
    if (std::abs(q - p) < 1e-9) return v;
  return std::nullopt;
}

std::vector<double> report_percentiles(const BenchResult& result) {
  if (!result.percentiles.empty()) return result.percentiles;
  std::vector<double> out;
  if (!result.runs.empty()) {
    for (const auto& [p, v] : result.runs.front().summary.ttft_ms.percentiles)
      out.push_back(p);
  }
  return out;
}

double tail_percentile(const BenchResult& result) {
  std::vector<double> ps = report_percentiles(result);
  if (ps.empty()) return 99;
  for (double p : ps)
    if (std::abs(p - 99) < 1e-9) return 99;
  return *std::max_element(ps.begin(), ps.end());
}

std::string format_fixed(double v, int decimals) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  if (n < 0 || n >= static_cast<int>(sizeof(buf))) return format_shortest(v);  // beyond 1e60
  return buf;
}

std::string format_shortest(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "nan";
  return std::string(buf, end);
}

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

LatencySamples latency_samples(const std::vector<RequestRecord>& records) {
  LatencySamples s;
  for (const RequestRecord& r : records) {
    if (r.warmup || !r.ok) continue;
    s.e2e_ms.push_back(r.e2e_s * 1000);
    if (r.ttft_s >= 0) {
      s.ttft_ms.push_back(r.ttft_s * 1000);
      int out = r.output_tokens();
      if (out >= 2) s.tpot_ms.push_back((r.e2e_s - r.ttft_s) * 1000 / (out - 1));
    }
    for (double gap : r.itl_s)
      s.itl_ms.push_back(gap * 1000);
  }
  return s;
}

}  // namespace pagoda::bench
