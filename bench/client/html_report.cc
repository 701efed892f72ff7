// to_html (declared in report_writer.h): one self-contained page, styles
// inline, plots as inline SVG from svg_plot.h.
#include <algorithm>
#include <cmath>
#include <functional>

#include "bench/client/report_util.h"
#include "bench/client/report_writer.h"
#include "bench/client/svg_plot.h"

namespace pagoda::bench {

namespace {

constexpr std::size_t kMaxCdfPoints = 400;

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f2f2f2; } td.l, th.l { text-align: left; }
tr.sat td { background: #fde0dc; font-weight: bold; }
.plots svg { margin: 6px 12px 6px 0; border: 1px solid #ddd; }
.note { color: #666; font-size: 12px; }
)";

std::string esc(std::string_view s) {
  return xml_escape(s);
}

// The empirical CDF of `values`: at most kMaxCdfPoints (value, fraction)
// points, the minimum and maximum always included.
std::vector<std::pair<double, double>> cdf_points(std::vector<double> values) {
  std::vector<std::pair<double, double>> out;
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
               values.end());
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  const std::size_t m = std::min(n, kMaxCdfPoints);
  for (std::size_t k = 0; k < m; ++k) {
    std::size_t i = m == 1 ? n - 1 : (k * (n - 1)) / (m - 1);
    out.emplace_back(values[i], static_cast<double>(i + 1) / static_cast<double>(n));
  }
  return out;
}

// A coarse CDF from a distribution's summary when the records are absent.
std::vector<std::pair<double, double>> cdf_from_summary(const Distribution& d) {
  std::vector<std::pair<double, double>> out;
  if (d.count <= 0) return out;
  out.emplace_back(d.min, 0.0);
  out.emplace_back(d.median, 0.5);
  for (const auto& [p, v] : d.percentiles)
    out.emplace_back(v, p / 100);
  out.emplace_back(d.max, 1.0);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

struct Metric {
  const char* title;
  const char* axis;
  const Distribution& (*summary)(const BenchSummary&);
  const std::vector<double>& (*samples)(const LatencySamples&);
};

const Metric kMetrics[] = {
    {"TTFT", "Time to first token (ms)",
     [](const BenchSummary& s) -> const Distribution& { return s.ttft_ms; },
     [](const LatencySamples& l) -> const std::vector<double>& { return l.ttft_ms; }},
    {"TPOT", "Time per output token (ms)",
     [](const BenchSummary& s) -> const Distribution& { return s.tpot_ms; },
     [](const LatencySamples& l) -> const std::vector<double>& { return l.tpot_ms; }},
    {"ITL", "Inter-token latency (ms)", [](const BenchSummary& s) -> const Distribution& { return s.itl_ms; },
     [](const LatencySamples& l) -> const std::vector<double>& { return l.itl_ms; }},
    {"E2E", "End-to-end latency (ms)", [](const BenchSummary& s) -> const Distribution& { return s.e2e_ms; },
     [](const LatencySamples& l) -> const std::vector<double>& { return l.e2e_ms; }},
};

void info_table(std::string& o, const BenchResult& r) {
  o += "<table class=\"meta\">\n";
  auto row = [&](const char* k, const std::string& v) {
    o += "<tr><th class=\"l\">" + std::string(k) + "</th><td class=\"l\">" + esc(v) + "</td></tr>\n";
  };
  row("Protocol", r.protocol);
  row("Target", r.target);
  row("Model", r.model);
  row("Workload", r.workload);
  row("Seed", std::to_string(r.seed));
  row("Started (UTC)", r.started_at);
  row("Client version", r.client_version);
  o += "</table>\n";
}

void summary_table(std::string& o, const BenchResult& r) {
  double tail = tail_percentile(r);
  std::string tn = esc(percentile_name(tail));
  o += "<table class=\"summary\">\n<tr><th class=\"l\">Level</th><th>Rate (req/s)</th><th>Max conc.</th>"
       "<th>OK</th><th>Failed</th><th>Duration (s)</th><th>Req/s</th><th>Output tok/s</th>"
       "<th>Total tok/s</th><th>Goodput (req/s)</th>";
  for (const Metric& m : kMetrics) {
    o += "<th>" + std::string(m.title) + " mean (ms)</th><th>" + m.title + " median (ms)</th><th>" + m.title +
         " " + tn + " (ms)</th>";
  }
  o += "</tr>\n";
  for (std::size_t i = 0; i < r.runs.size(); ++i) {
    const BenchRun& run = r.runs[i];
    const BenchSummary& s = run.summary;
    bool sat = static_cast<int>(i) == r.saturation_index;
    o += sat ? "<tr class=\"sat\">" : "<tr>";
    auto td = [&](const std::string& v) { o += "<td>" + esc(v) + "</td>"; };
    o += "<td class=\"l\">" + esc(run.label) + (sat ? " (saturation)" : "") + "</td>";
    td(format_fixed(run.request_rate, 2));
    td(run.max_concurrency > 0 ? std::to_string(run.max_concurrency) : "-");
    td(std::to_string(s.completed));
    td(std::to_string(s.failed));
    td(fixed2(s.duration_s));
    td(fixed2(s.request_throughput));
    td(fixed2(s.output_throughput));
    td(fixed2(s.total_throughput));
    td(s.slo.any() ? fixed2(s.goodput) : "-");
    for (const Metric& m : kMetrics) {
      const Distribution& d = m.summary(s);
      std::optional<double> t = percentile_of(d, tail);
      td(d.count > 0 ? fixed2(d.mean) : "n/a");
      td(d.count > 0 ? fixed2(d.median) : "n/a");
      td(d.count > 0 && t ? fixed2(*t) : "n/a");
    }
    o += "</tr>\n";
  }
  o += "</table>\n";
  if (r.runs.size() > 1) {
    if (r.saturation_index >= 0 && r.saturation_index < static_cast<int>(r.runs.size())) {
      o += "<p class=\"note\">Saturation level: " + esc(r.runs[r.saturation_index].label) +
           (r.saturation_reason.empty() ? "" : " &mdash; " + esc(r.saturation_reason)) + "</p>\n";
    } else {
      o += "<p class=\"note\">No saturation level found.</p>\n";
    }
  }
}

void errors_section(std::string& o, const BenchResult& r) {
  bool any = false;
  for (const BenchRun& run : r.runs)
    any = any || !run.summary.errors.empty();
  if (!any) return;
  o += "<h2>Errors</h2>\n<table>\n<tr><th class=\"l\">Level</th><th "
       "class=\"l\">Kind</th><th>Count</th></tr>\n";
  for (const BenchRun& run : r.runs) {
    for (const auto& [kind, count] : run.summary.errors) {
      o += "<tr><td class=\"l\">" + esc(run.label) + "</td><td class=\"l\">" + esc(kind) + "</td><td>" +
           std::to_string(count) + "</td></tr>\n";
    }
  }
  o += "</table>\n";
}

void server_section(std::string& o, const BenchResult& r) {
  bool any = false;
  for (const BenchRun& run : r.runs)
    any = any || run.server.available || !run.server.error.empty();
  if (!any) return;
  o += "<h2>Server view</h2>\n<table>\n<tr><th class=\"l\">Level</th><th>KV usage mean (%)</th>"
       "<th>KV usage max (%)</th><th>Waiting mean</th><th>Waiting max</th><th>Running mean</th>"
       "<th>Running max</th><th>Preemptions</th><th>Prefix hit rate (%)</th><th>Samples</th></tr>\n";
  for (const BenchRun& run : r.runs) {
    const ServerView& v = run.server;
    o += "<tr><td class=\"l\">" + esc(run.label) + "</td>";
    if (!v.available) {
      o += "<td class=\"l\" colspan=\"9\">unavailable: " + esc(v.error) + "</td></tr>\n";
      continue;
    }
    for (const std::string& cell :
         {fixed2(v.kv_cache_usage_mean * 100), fixed2(v.kv_cache_usage_max * 100), fixed2(v.num_waiting_mean),
          format_shortest(v.num_waiting_max), fixed2(v.num_running_mean), format_shortest(v.num_running_max),
          format_shortest(v.preemptions),
          v.prefix_cache_hit_rate >= 0 ? fixed2(v.prefix_cache_hit_rate * 100) : std::string("n/a"),
          std::to_string(v.num_samples)}) {
      o += "<td>" + esc(cell) + "</td>";
    }
    o += "</tr>\n";
  }
  o += "</table>\n";
}

void cdf_plots(std::string& o, const BenchResult& r) {
  std::vector<LatencySamples> samples;
  samples.reserve(r.runs.size());
  for (const BenchRun& run : r.runs)
    samples.push_back(latency_samples(run.records));
  o += "<h2>Latency distributions</h2>\n<div class=\"plots\">\n";
  bool any_fallback = false;
  for (const Metric& m : kMetrics) {
    PlotSpec spec;
    spec.title = std::string(m.title) + " CDF";
    spec.x_label = m.axis;
    spec.y_label = "Cumulative fraction";
    for (std::size_t i = 0; i < r.runs.size(); ++i) {
      PlotSeries s;
      s.name = r.runs[i].label.empty() ? "run " + std::to_string(i + 1) : r.runs[i].label;
      s.points = cdf_points(m.samples(samples[i]));
      if (s.points.empty()) {
        s.points = cdf_from_summary(m.summary(r.runs[i].summary));
        if (!s.points.empty()) {
          s.markers = true;
          any_fallback = true;
        }
      }
      spec.series.push_back(std::move(s));
    }
    o += render_svg(spec);
  }
  o += "</div>\n";
  if (any_fallback) {
    o += "<p class=\"note\">A curve with dots belongs to a run without request records: it is drawn from "
         "its percentiles (min, median, asked percentiles, max).</p>\n";
  }
}

void sweep_plots(std::string& o, const BenchResult& r) {
  double tail = tail_percentile(r);
  std::string tn = percentile_name(tail);
  o += "<h2>Throughput vs latency</h2>\n<div class=\"plots\">\n";
  struct Curve {
    const char* name;
    const Distribution& (*summary)(const BenchSummary&);
  };
  const Curve curves[] = {{"TPOT", kMetrics[1].summary}, {"E2E", kMetrics[3].summary}};
  for (const Curve& c : curves) {
    PlotSpec spec;
    spec.title = std::string(c.name) + " vs output throughput";
    spec.x_label = "Output throughput (tokens/s)";
    spec.y_label = std::string(c.name) + " (ms)";
    spec.highlight_label = "saturation";
    PlotSeries median;
    median.name = "median " + std::string(c.name);
    median.markers = true;
    median.color = 0;
    PlotSeries tail_series;
    tail_series.name = tn + " " + c.name;
    tail_series.dashed = true;
    tail_series.markers = true;
    tail_series.color = 1;
    for (std::size_t i = 0; i < r.runs.size(); ++i) {
      const BenchSummary& s = r.runs[i].summary;
      const Distribution& d = c.summary(s);
      if (d.count <= 0) continue;
      bool sat = static_cast<int>(i) == r.saturation_index;
      if (sat) median.highlight.push_back(median.points.size());
      median.points.emplace_back(s.output_throughput, d.median);
      if (std::optional<double> t = percentile_of(d, tail)) {
        if (sat) tail_series.highlight.push_back(tail_series.points.size());
        tail_series.points.emplace_back(s.output_throughput, *t);
      }
    }
    spec.series.push_back(std::move(median));
    spec.series.push_back(std::move(tail_series));
    o += render_svg(spec);
  }
  o += "</div>\n";
}

}  // namespace

std::string to_html(const BenchResult& r) {
  std::string o;
  o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o += "<title>pagoda bench serve: " + esc(r.model) + " " + esc(r.started_at) + "</title>\n";
  o += "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
  o += "<h1>Serving benchmark: " + esc(r.model) + "</h1>\n";
  info_table(o, r);
  o += "<h2>Summary</h2>\n";
  summary_table(o, r);
  errors_section(o, r);
  server_section(o, r);
  cdf_plots(o, r);
  if (r.runs.size() > 1) sweep_plots(o, r);
  o += "<p class=\"note\">Latencies in milliseconds; throughput over completed requests. Generated by pagoda "
       "bench serve " +
       esc(r.client_version) + ".</p>\n</body>\n</html>\n";
  return o;
}

}  // namespace pagoda::bench
