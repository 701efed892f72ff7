#include "bench/client/report_writer.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "bench/client/report_util.h"

namespace pagoda::bench {

namespace {

constexpr int kWidth = 50;
constexpr int kLabelWidth = 40;

// "====== title ======" centred in kWidth characters, like Python's '{:=^50}'.
std::string rule(std::string_view title, char fill) {
  std::string t;
  if (!title.empty()) {
    t += ' ';
    t += title;
    t += ' ';
  }
  if (t.size() >= static_cast<std::size_t>(kWidth)) return t + "\n";
  std::size_t pad = kWidth - t.size();
  return std::string(pad / 2, fill) + t + std::string(pad - pad / 2, fill) + "\n";
}

void line(std::string& o, std::string_view label, const std::string& value) {
  std::string l(label);
  if (l.size() < static_cast<std::size_t>(kLabelWidth)) l.resize(kLabelWidth, ' ');
  o += l + " " + value + "\n";
}

void distribution_block(std::string& o, std::string_view title, std::string_view abbrev,
                        const Distribution& d) {
  o += rule(title, '-');
  std::string a(abbrev);
  auto value = [&](double v) { return d.count > 0 ? fixed2(v) : std::string("n/a"); };
  line(o, "Mean " + a + " (ms):", value(d.mean));
  line(o, "Median " + a + " (ms):", value(d.median));
  for (const auto& [p, v] : d.percentiles) {
    line(o, std::string("P") + format_shortest(p) + " " + a + " (ms):", value(v));
  }
}

std::string slo_text(const Slo& slo) {
  std::string out;
  auto add = [&](const char* name, double ms) {
    if (ms <= 0) return;
    if (!out.empty()) out += ", ";
    out += std::string(name) + "<=" + format_shortest(ms) + "ms";
  };
  add("ttft", slo.ttft_ms);
  add("tpot", slo.tpot_ms);
  add("itl", slo.itl_ms);
  add("e2e", slo.e2e_ms);
  return out;
}

void server_block(std::string& o, const ServerView& s) {
  if (!s.available) {
    if (!s.error.empty()) {
      o += rule("Server view", '-');
      line(o, "Server metrics:", "unavailable: " + printable(s.error));
    }
    return;
  }
  o += rule("Server view", '-');
  line(o, "KV cache usage mean / max (%):",
       fixed2(s.kv_cache_usage_mean * 100) + " / " + fixed2(s.kv_cache_usage_max * 100));
  line(o, "Waiting requests mean / max:",
       fixed2(s.num_waiting_mean) + " / " + format_shortest(s.num_waiting_max));
  line(o, "Running requests mean / max:",
       fixed2(s.num_running_mean) + " / " + format_shortest(s.num_running_max));
  line(o, "Preemptions:", format_shortest(s.preemptions));
  line(
      o, "Prefix cache hit rate (%):",
      s.prefix_cache_hit_rate >= 0 ? fixed2(s.prefix_cache_hit_rate * 100) : std::string("n/a (no queries)"));
  line(o, "Server prompt / generation tokens:",
       format_shortest(s.prompt_tokens) + " / " + format_shortest(s.generation_tokens));
  line(o, "Metrics samples:", std::to_string(s.num_samples));
}

void run_block(std::string& o, const BenchResult& result, std::size_t index) {
  const BenchRun& run = result.runs[index];
  const BenchSummary& s = run.summary;
  bool sweep = result.runs.size() > 1;
  o += rule(sweep ? "Serving Benchmark Result: " + printable(run.label) : "Serving Benchmark Result", '=');
  if (index == 0) {
    if (!result.protocol.empty()) line(o, "Protocol:", printable(result.protocol));
    if (!result.target.empty()) line(o, "Target:", printable(result.target));
    if (!result.model.empty()) line(o, "Model:", printable(result.model));
    if (!result.workload.empty()) line(o, "Workload:", printable(result.workload));
  }
  line(o, "Traffic request rate (req/s):", format_fixed(run.request_rate, 2));
  if (run.burstiness != 1) line(o, "Burstiness factor:", format_shortest(run.burstiness));
  if (run.max_concurrency > 0) line(o, "Maximum request concurrency:", std::to_string(run.max_concurrency));
  line(o, "Achieved send rate (req/s):", fixed2(run.achieved_rate));
  line(o, "Successful requests:", std::to_string(s.completed));
  line(o, "Failed requests:", std::to_string(s.failed));
  for (const auto& [kind, count] : s.errors) {
    line(o, "  " + printable(kind) + ":", std::to_string(count));
  }
  line(o, "Benchmark duration (s):", fixed2(s.duration_s));
  line(o, "Total input tokens:", std::to_string(s.total_input_tokens));
  line(o, "Total generated tokens:", std::to_string(s.total_output_tokens));
  line(o, "Request throughput (req/s):", fixed2(s.request_throughput));
  if (s.slo.any()) {
    line(o, "Request goodput (req/s):", fixed2(s.goodput));
    line(o, "Good requests (" + slo_text(s.slo) + "):", std::to_string(s.good_requests));
  }
  line(o, "Input token throughput (tok/s):", fixed2(s.input_throughput));
  line(o, "Output token throughput (tok/s):", fixed2(s.output_throughput));
  line(o, "Total token throughput (tok/s):", fixed2(s.total_throughput));
  distribution_block(o, "Time to First Token", "TTFT", s.ttft_ms);
  distribution_block(o, "Time per Output Token (excl. 1st token)", "TPOT", s.tpot_ms);
  distribution_block(o, "Inter-token Latency", "ITL", s.itl_ms);
  distribution_block(o, "End-to-end Latency", "E2EL", s.e2e_ms);
  o += rule("Token accounting", '-');
  line(o, "Requests with server usage:",
       std::to_string(s.usage_reported) + " of " + std::to_string(s.completed));
  line(o, "Usage mismatches (stream vs server):", std::to_string(s.usage_mismatches));
  server_block(o, run.server);
  o += std::string(kWidth, '=') + "\n";
}

std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}
std::string pad_right(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

void sweep_table(std::string& o, const BenchResult& result) {
  double tail = tail_percentile(result);
  std::string tail_name = percentile_name(tail);
  std::size_t label_width = 5;
  for (const BenchRun& run : result.runs)
    label_width = std::max(label_width, std::min<std::size_t>(printable(run.label).size(), 32));
  std::vector<std::string> headers = {"req/s",    "out tok/s",         "TTFT p50", "TTFT " + tail_name,
                                      "TPOT p50", "TPOT " + tail_name, "failed"};
  const std::size_t w = 11;
  o += '\n';
  o += rule("Sweep summary (latencies in ms)", '=');
  std::string head = pad_right("level", label_width) + "  ";
  for (const std::string& h : headers)
    head += pad_left(h, w);
  o += head + "\n";
  auto tail_of = [&](const Distribution& d) {
    std::optional<double> v = percentile_of(d, tail);
    return d.count > 0 && v ? fixed2(*v) : std::string("n/a");
  };
  auto median_of = [&](const Distribution& d) { return d.count > 0 ? fixed2(d.median) : std::string("n/a"); };
  for (std::size_t i = 0; i < result.runs.size(); ++i) {
    const BenchRun& run = result.runs[i];
    const BenchSummary& s = run.summary;
    bool saturated = static_cast<int>(i) == result.saturation_index;
    std::string row = pad_right(printable(run.label), label_width) + (saturated ? " *" : "  ");
    row += pad_left(fixed2(s.request_throughput), w);
    row += pad_left(fixed2(s.output_throughput), w);
    row += pad_left(median_of(s.ttft_ms), w);
    row += pad_left(tail_of(s.ttft_ms), w);
    row += pad_left(median_of(s.tpot_ms), w);
    row += pad_left(tail_of(s.tpot_ms), w);
    row += pad_left(std::to_string(s.failed), w);
    o += row + "\n";
  }
  if (result.saturation_index >= 0 && result.saturation_index < static_cast<int>(result.runs.size())) {
    std::string why = result.saturation_reason.empty() ? "" : ": " + printable(result.saturation_reason);
    o += "* saturation level" + why + "\n";
  } else {
    o += "No saturation level found.\n";
  }
}

// RFC 4180 field: quoted when it holds a comma, quote or line break.
std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string format_table(const BenchResult& result) {
  std::string o;
  if (result.runs.empty())
    return rule("Serving Benchmark Result", '=') + "No runs.\n" + std::string(kWidth, '=') + "\n";
  for (std::size_t i = 0; i < result.runs.size(); ++i) {
    if (i > 0) o += "\n";
    run_block(o, result, i);
  }
  if (result.runs.size() > 1) sweep_table(o, result);
  return o;
}

std::string to_csv(const BenchResult& result) {
  std::vector<double> ps = report_percentiles(result);
  std::vector<std::string> header = {"label",
                                     "request_rate",
                                     "burstiness",
                                     "max_concurrency",
                                     "achieved_rate",
                                     "completed",
                                     "failed",
                                     "errors",
                                     "duration_s",
                                     "total_input_tokens",
                                     "total_output_tokens",
                                     "request_throughput",
                                     "input_throughput",
                                     "output_throughput",
                                     "total_throughput",
                                     "good_requests",
                                     "goodput"};
  const char* metrics[] = {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"};
  for (const char* m : metrics) {
    for (const char* stat : {"count", "mean", "median", "stddev"})
      header.push_back(std::string(m) + "_" + stat);
    for (double p : ps)
      header.push_back(std::string(m) + "_" + percentile_name(p));
  }
  for (const char* h : {"usage_reported", "usage_mismatches", "server_available", "kv_cache_usage_mean",
                        "kv_cache_usage_max", "num_waiting_mean", "num_waiting_max", "num_running_mean",
                        "num_running_max", "preemptions", "prefix_cache_hit_rate", "saturated"})
    header.emplace_back(h);

  std::string o;
  auto emit = [&](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) o += ',';
      o += csv_field(fields[i]);
    }
    o += "\r\n";
  };
  emit(header);
  for (std::size_t i = 0; i < result.runs.size(); ++i) {
    const BenchRun& run = result.runs[i];
    const BenchSummary& s = run.summary;
    std::string errors;
    for (const auto& [kind, count] : s.errors) {
      if (!errors.empty()) errors += ';';
      errors += kind + "=" + std::to_string(count);
    }
    std::vector<std::string> row = {run.label,
                                    format_shortest(run.request_rate),
                                    format_shortest(run.burstiness),
                                    std::to_string(run.max_concurrency),
                                    format_shortest(run.achieved_rate),
                                    std::to_string(s.completed),
                                    std::to_string(s.failed),
                                    errors,
                                    format_shortest(s.duration_s),
                                    std::to_string(s.total_input_tokens),
                                    std::to_string(s.total_output_tokens),
                                    format_shortest(s.request_throughput),
                                    format_shortest(s.input_throughput),
                                    format_shortest(s.output_throughput),
                                    format_shortest(s.total_throughput),
                                    std::to_string(s.good_requests),
                                    format_shortest(s.goodput)};
    for (const Distribution* d : {&s.ttft_ms, &s.tpot_ms, &s.itl_ms, &s.e2e_ms}) {
      row.push_back(std::to_string(d->count));
      row.push_back(format_shortest(d->mean));
      row.push_back(format_shortest(d->median));
      row.push_back(format_shortest(d->stddev));
      for (double p : ps) {
        std::optional<double> v = percentile_of(*d, p);
        row.push_back(v ? format_shortest(*v) : std::string());
      }
    }
    const ServerView& sv = run.server;
    auto server_num = [&](double v) { return sv.available ? format_shortest(v) : std::string(); };
    row.push_back(std::to_string(s.usage_reported));
    row.push_back(std::to_string(s.usage_mismatches));
    row.push_back(sv.available ? "1" : "0");
    row.push_back(server_num(sv.kv_cache_usage_mean));
    row.push_back(server_num(sv.kv_cache_usage_max));
    row.push_back(server_num(sv.num_waiting_mean));
    row.push_back(server_num(sv.num_waiting_max));
    row.push_back(server_num(sv.num_running_mean));
    row.push_back(server_num(sv.num_running_max));
    row.push_back(server_num(sv.preemptions));
    row.push_back(sv.available && sv.prefix_cache_hit_rate >= 0 ? format_shortest(sv.prefix_cache_hit_rate)
                                                                : std::string());
    row.push_back(static_cast<int>(i) == result.saturation_index ? "1" : "0");
    emit(row);
  }
  return o;
}

}  // namespace pagoda::bench
