#include "bench/client/report_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "bench/client/svg_plot.h"

namespace pagoda::bench {
namespace {

using nlohmann::json;

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

Distribution dist(double mean, double median, double p90, double p99, double p999) {
  Distribution d;
  d.count = 100;
  d.mean = mean;
  d.median = median;
  d.stddev = mean / 4;
  d.min = median / 2;
  d.max = p999 * 1.5;
  d.percentiles = {{90, p90}, {99, p99}, {99.9, p999}};
  return d;
}

RequestRecord record(std::int64_t index, double start_s, double ttft_s, double e2e_s, int tokens) {
  RequestRecord r;
  r.index = index;
  r.ok = true;
  r.start_s = start_s;
  r.ttft_s = ttft_s;
  r.e2e_s = e2e_s;
  r.stream_tokens = tokens;
  r.usage_completion_tokens = tokens;
  r.prompt_tokens = 512;
  for (int i = 1; i < tokens; ++i)
    r.itl_s.push_back((e2e_s - ttft_s) / (tokens - 1));
  return r;
}

BenchRun make_run(const std::string& label, double rate, double scale) {
  BenchRun run;
  run.label = label;
  run.request_rate = rate;
  run.max_concurrency = 16;
  run.achieved_rate = std::isinf(rate) ? 123.4 : rate * 0.99;
  BenchSummary& s = run.summary;
  s.completed = 98;
  s.failed = 2;
  s.errors = {{"http_429", 1}, {"timeout", 1}};
  s.duration_s = 12.5;
  s.total_input_tokens = 50176;
  s.total_output_tokens = 12345;
  s.request_throughput = 7.84 * scale;
  s.input_throughput = 4014.08 * scale;
  s.output_throughput = 987.6 * scale;
  s.total_throughput = 5001.68 * scale;
  s.ttft_ms = dist(123.45 * scale, 110.5 * scale, 300.25 * scale, 456.78 * scale, 600 * scale);
  s.tpot_ms = dist(21.5 * scale, 20.25 * scale, 30 * scale, 41.75 * scale, 50 * scale);
  s.itl_ms = dist(20 * scale, 19 * scale, 28 * scale, 39 * scale, 80 * scale);
  s.e2e_ms = dist(2800 * scale, 2700 * scale, 3500 * scale, 4100.5 * scale, 5000 * scale);
  s.usage_reported = 98;
  s.usage_mismatches = 3;
  for (int i = 0; i < 20; ++i)
    run.records.push_back(record(i, 0.1 * i, 0.1 + 0.01 * i, 2.0 + 0.05 * i, 100));
  RequestRecord warm = record(100, 0, 5, 50, 10);
  warm.warmup = true;
  run.records.push_back(warm);
  RequestRecord failed;
  failed.index = 101;
  failed.error_kind = "timeout";
  failed.error_message = "deadline \xff\xfe exceeded";  // invalid UTF-8 from a server
  run.records.push_back(failed);
  return run;
}

BenchResult single_result() {
  BenchResult r;
  r.protocol = "openai-chat";
  r.target = "127.0.0.1:8000";
  r.model = "Qwen/Qwen3-0.6B";
  r.workload =
      "random(in=512\xC2\xB1"
      "10%,out=128\xC2\xB1"
      "10%)";
  r.seed = 18446744073709551615ull;
  r.started_at = "2025-01-02T03:04:05Z";
  r.client_version = "0.1.0";
  r.percentiles = {90, 99, 99.9};
  r.runs.push_back(make_run("rate=inf", std::numeric_limits<double>::infinity(), 1));
  BenchSummary& s = r.runs[0].summary;
  s.slo.ttft_ms = 500;
  s.slo.tpot_ms = 50;
  s.good_requests = 81;
  s.goodput = 6.48;
  ServerView& v = r.runs[0].server;
  v.available = true;
  v.num_samples = 25;
  v.kv_cache_usage_mean = 0.4567;
  v.kv_cache_usage_max = 0.91;
  v.num_waiting_mean = 3.25;
  v.num_waiting_max = 11;
  v.num_running_mean = 14.5;
  v.num_running_max = 16;
  v.preemptions = 7;
  v.prefix_cache_queries = 4000;
  v.prefix_cache_hits = 1000;
  v.prefix_cache_hit_rate = 0.25;
  v.prompt_tokens = 50176;
  v.generation_tokens = 12345;
  return r;
}

BenchResult sweep_result() {
  BenchResult r = single_result();
  r.runs.clear();
  r.runs.push_back(make_run("rate=1", 1, 0.5));
  r.runs.push_back(make_run("rate=4, \"bursty\"", 4, 1));
  r.runs.push_back(make_run("<script>alert(1)</script>", 8, 2));
  r.runs[2].summary.failed = 9;
  r.runs[2].records.clear();  // the HTML falls back to the percentiles for this run
  for (BenchRun& run : r.runs)
    run.server = single_result().runs[0].server;
  r.runs[0].server = ServerView{};
  r.runs[0].server.error = "metrics scrape after the run failed";
  r.saturation_index = 1;
  r.saturation_reason = "output throughput grew < 10% from rate=4 to the next level";
  return r;
}

// A minimal RFC 4180 reader: rows of fields, CRLF or LF line ends.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quote";
  if (!field.empty() || !row.empty()) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

TEST(FormatTable, SingleRunHasTheNumbers) {
  std::string t = format_table(single_result());
  EXPECT_NE(t.find("============ Serving Benchmark Result ============"), std::string::npos) << t;
  // vLLM's layout: the label left-aligned in 40 columns, a space, the value.
  auto row = [](std::string label, const std::string& value) {
    label.resize(std::max<std::size_t>(label.size(), 40), ' ');
    return label + " " + value + "\n";
  };
  for (const std::string& expected : {row("Successful requests:", "98"),
                                      row("Failed requests:", "2"),
                                      row("  http_429:", "1"),
                                      row("  timeout:", "1"),
                                      row("Benchmark duration (s):", "12.50"),
                                      row("Total input tokens:", "50176"),
                                      row("Total generated tokens:", "12345"),
                                      row("Request throughput (req/s):", "7.84"),
                                      row("Output token throughput (tok/s):", "987.60"),
                                      row("Total token throughput (tok/s):", "5001.68"),
                                      row("Input token throughput (tok/s):", "4014.08"),
                                      row("Request goodput (req/s):", "6.48"),
                                      row("Traffic request rate (req/s):", "inf"),
                                      row("Maximum request concurrency:", "16"),
                                      row("Mean TTFT (ms):", "123.45"),
                                      row("Median TTFT (ms):", "110.50"),
                                      row("P99 TTFT (ms):", "456.78"),
                                      row("P99.9 TTFT (ms):", "600.00"),
                                      row("P90 TPOT (ms):", "30.00"),
                                      row("Median ITL (ms):", "19.00"),
                                      row("P99 E2EL (ms):", "4100.50"),
                                      row("Usage mismatches (stream vs server):", "3"),
                                      row("KV cache usage mean / max (%):", "45.67 / 91.00"),
                                      row("Waiting requests mean / max:", "3.25 / 11"),
                                      row("Running requests mean / max:", "14.50 / 16"),
                                      row("Preemptions:", "7"),
                                      row("Prefix cache hit rate (%):", "25.00"),
                                      row("Metrics samples:", "25"),
                                      row("Model:", "Qwen/Qwen3-0.6B"),
                                      std::string("Time per Output Token (excl. 1st token)")}) {
    EXPECT_NE(t.find(expected), std::string::npos) << "missing: " << expected << "\n" << t;
  }
  EXPECT_NE(t.find("ttft<=500ms, tpot<=50ms"), std::string::npos) << t;
  EXPECT_EQ(t.find("Sweep summary"), std::string::npos);
}

TEST(FormatTable, OptionalSections) {
  BenchResult r = single_result();
  r.runs[0].summary.slo = Slo{};
  r.runs[0].server = ServerView{};
  std::string t = format_table(r);
  EXPECT_EQ(t.find("goodput"), std::string::npos) << t;
  EXPECT_EQ(t.find("Server view"), std::string::npos) << t;

  r.runs[0].server.error = "metrics scrape before the run: UNAVAILABLE: refused";
  r.runs[0].summary.ttft_ms = Distribution{};
  t = format_table(r);
  EXPECT_NE(t.find("unavailable: metrics scrape before the run: UNAVAILABLE: refused"), std::string::npos)
      << t;
  EXPECT_NE(t.find("Mean TTFT (ms):" + std::string(25, ' ') + " n/a\n"), std::string::npos) << t;

  r.runs[0].label = "evil\x1b[2J";
  r.runs.push_back(r.runs[0]);
  t = format_table(r);
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_EQ(format_table(BenchResult{}).find("No runs."), 51u);
}

TEST(FormatTable, SweepTableMarksSaturation) {
  BenchResult r = sweep_result();
  std::string t = format_table(r);
  EXPECT_EQ(count_of(t, "Serving Benchmark Result: "), 3u) << t;
  std::size_t sweep = t.find("Sweep summary");
  ASSERT_NE(sweep, std::string::npos) << t;
  std::string table = t.substr(sweep);
  EXPECT_NE(table.find("TTFT p99"), std::string::npos) << table;
  // The saturated level, and its median TTFT / p99 TPOT columns.
  std::size_t row = table.find("\nrate=4, \"bursty\" ");
  ASSERT_NE(row, std::string::npos) << table;
  std::string line = table.substr(row + 1, table.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find(" *"), std::string::npos) << line;
  EXPECT_NE(line.find("987.60"), std::string::npos) << line;
  EXPECT_NE(line.find("110.50"), std::string::npos) << line;
  EXPECT_NE(line.find("41.75"), std::string::npos) << line;
  EXPECT_EQ(count_of(table, " *"), 1u) << table;
  EXPECT_NE(table.find("* saturation level: output throughput grew"), std::string::npos) << table;
  // One line per level: header rule, column header, 3 levels, footnote.
  EXPECT_EQ(count_of(table, "\n"), 6u) << table;
  std::size_t last = table.find("<script>alert(1)</script>");
  ASSERT_NE(last, std::string::npos);
  EXPECT_NE(table.find("      9\n", last), std::string::npos) << table;  // failures column
}

TEST(ToJson, RoundTripsAllFields) {
  BenchResult r = single_result();
  std::string text = to_json(r, /*include_records=*/false);
  json j = json::parse(text);  // throws (fails the test) when malformed
  EXPECT_EQ(j["protocol"], "openai-chat");
  EXPECT_EQ(j["model"], "Qwen/Qwen3-0.6B");
  EXPECT_EQ(j["workload"], r.workload);
  EXPECT_EQ(j["seed"].get<std::uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(j["percentiles"], json({90, 99, 99.9}));
  EXPECT_EQ(j["saturation_index"], -1);
  ASSERT_EQ(j["runs"].size(), 1u);
  const json& run = j["runs"][0];
  EXPECT_EQ(run["label"], "rate=inf");
  EXPECT_EQ(run["request_rate"], "inf");  // JSON has no infinity
  EXPECT_EQ(run["max_concurrency"], 16);
  EXPECT_DOUBLE_EQ(run["achieved_rate"].get<double>(), 123.4);
  EXPECT_FALSE(run.contains("records"));
  const json& s = run["summary"];
  EXPECT_EQ(s["completed"], 98);
  EXPECT_EQ(s["failed"], 2);
  EXPECT_EQ(s["errors"], json({{"http_429", 1}, {"timeout", 1}}));
  EXPECT_DOUBLE_EQ(s["duration_s"].get<double>(), 12.5);
  EXPECT_EQ(s["total_input_tokens"], 50176);
  EXPECT_EQ(s["total_output_tokens"], 12345);
  EXPECT_DOUBLE_EQ(s["output_throughput"].get<double>(), 987.6);
  EXPECT_DOUBLE_EQ(s["ttft_ms"]["mean"].get<double>(), 123.45);
  EXPECT_DOUBLE_EQ(s["ttft_ms"]["median"].get<double>(), 110.5);
  EXPECT_DOUBLE_EQ(s["ttft_ms"]["p99"].get<double>(), 456.78);
  EXPECT_DOUBLE_EQ(s["ttft_ms"]["p99.9"].get<double>(), 600);
  EXPECT_EQ(s["ttft_ms"]["count"], 100);
  for (const char* m : {"tpot_ms", "itl_ms", "e2e_ms"}) {
    for (const char* k : {"count", "mean", "median", "stddev", "min", "max", "p90", "p99", "p99.9"})
      EXPECT_TRUE(s[m].contains(k)) << m << "." << k;
  }
  EXPECT_DOUBLE_EQ(s["slo"]["ttft_ms"].get<double>(), 500);
  EXPECT_EQ(s["good_requests"], 81);
  EXPECT_DOUBLE_EQ(s["goodput"].get<double>(), 6.48);
  EXPECT_EQ(s["usage_mismatches"], 3);
  EXPECT_EQ(s["usage_reported"], 98);
  const json& v = run["server"];
  EXPECT_EQ(v["available"], true);
  EXPECT_EQ(v["num_samples"], 25);
  EXPECT_DOUBLE_EQ(v["kv_cache_usage_max"].get<double>(), 0.91);
  EXPECT_DOUBLE_EQ(v["prefix_cache_hit_rate"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(v["generation_tokens"].get<double>(), 12345);
}

TEST(ToJson, RecordsOnlyWhenAsked) {
  BenchResult r = single_result();
  r.runs[0].achieved_rate = -std::numeric_limits<double>::infinity();
  r.runs[0].summary.goodput = std::nan("");
  json j = json::parse(to_json(r, /*include_records=*/true));
  const json& run = j["runs"][0];
  EXPECT_EQ(run["achieved_rate"], "-inf");
  EXPECT_EQ(run["summary"]["goodput"], "nan");
  ASSERT_EQ(run["records"].size(), r.runs[0].records.size());
  const json& first = run["records"][0];
  EXPECT_EQ(first["index"], 0);
  EXPECT_EQ(first["ok"], true);
  EXPECT_EQ(first["warmup"], false);
  EXPECT_DOUBLE_EQ(first["ttft_s"].get<double>(), 0.1);
  EXPECT_EQ(first["itl_s"].size(), 99u);
  EXPECT_EQ(first["usage_completion_tokens"], 100);
  EXPECT_EQ(run["records"][20]["warmup"], true);
  const json& failed = run["records"][21];
  EXPECT_EQ(failed["ok"], false);
  EXPECT_EQ(failed["error_kind"], "timeout");
  // Invalid UTF-8 from the server is replaced, not thrown on.
  EXPECT_EQ(failed["error_message"], "deadline \xEF\xBF\xBD\xEF\xBF\xBD exceeded");
  EXPECT_EQ(failed["usage_prompt_tokens"], -1);
}

TEST(ToCsv, OneRowPerRunWithQuoting) {
  BenchResult r = sweep_result();
  std::string text = to_csv(r);
  EXPECT_NE(text.find("\r\n"), std::string::npos);
  EXPECT_NE(text.find("\"rate=4, \"\"bursty\"\"\""), std::string::npos) << text;
  auto rows = parse_csv(text);
  ASSERT_EQ(rows.size(), 4u);
  const auto& header = rows[0];
  for (const auto& row : rows)
    EXPECT_EQ(row.size(), header.size());
  auto col = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<std::size_t>(it - header.begin());
  };
  EXPECT_EQ(rows[1][col("label")], "rate=1");
  EXPECT_EQ(rows[2][col("label")], "rate=4, \"bursty\"");
  EXPECT_EQ(rows[3][col("label")], "<script>alert(1)</script>");
  EXPECT_EQ(rows[2][col("request_rate")], "4");
  EXPECT_EQ(rows[2][col("output_throughput")], "987.6");
  EXPECT_EQ(rows[2][col("ttft_ms_p99")], "456.78");
  EXPECT_EQ(rows[2][col("e2e_ms_p99.9")], "5000");
  EXPECT_EQ(rows[2][col("errors")], "http_429=1;timeout=1");
  EXPECT_EQ(rows[3][col("failed")], "9");
  EXPECT_EQ(rows[1][col("saturated")], "0");
  EXPECT_EQ(rows[2][col("saturated")], "1");
  EXPECT_EQ(rows[2][col("prefix_cache_hit_rate")], "0.25");

  BenchResult single = single_result();
  auto single_rows = parse_csv(to_csv(single));
  ASSERT_EQ(single_rows.size(), 2u);
  EXPECT_EQ(single_rows[1][col("request_rate")], "inf");
}

TEST(ToHtml, SelfContainedWithOnePlotEach) {
  BenchResult r = sweep_result();
  std::string html = to_html(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>\n"), std::string::npos);
  // 4 latency CDFs + 2 throughput-latency plots.
  EXPECT_EQ(count_of(html, "<svg"), 6u);
  EXPECT_EQ(count_of(html, "</svg>"), 6u);
  EXPECT_EQ(count_of(html, "<table"), count_of(html, "</table>"));
  EXPECT_EQ(count_of(html, "<tr"), count_of(html, "</tr>"));
  // The label is escaped everywhere it appears; nothing is loaded from outside.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("rate=4, &quot;bursty&quot;"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(count_of(html, "http://") + count_of(html, "https://"),
            count_of(html, "http://www.w3.org/2000/svg"));
  // Plots carry titles, axis labels with units, legends and the saturation ring.
  for (const char* expected : {"TTFT CDF", "TPOT CDF", "ITL CDF", "E2E CDF", "Time to first token (ms)",
                               "Output throughput (tokens/s)", "TPOT vs output throughput", "p99 TPOT",
                               "median E2E", ">saturation<", "drawn from its percentiles", "<polyline",
                               "Cumulative fraction", "class=\"sat\"", "Server view", "Errors"}) {
    EXPECT_NE(html.find(expected), std::string::npos) << expected;
  }
}

TEST(ToHtml, SingleRunHasFourPlots) {
  BenchResult r = single_result();
  r.model = "m&m <b>";
  std::string html = to_html(r);
  EXPECT_EQ(count_of(html, "<svg"), 4u);
  EXPECT_EQ(html.find("Throughput vs latency"), std::string::npos);
  EXPECT_NE(html.find("m&amp;m &lt;b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(count_of(to_html(BenchResult{}), "<svg"), 4u);  // empty plots, no crash
}

TEST(SvgPlot, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 97), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  std::vector<double> t = nice_ticks(3, 3);
  EXPECT_LE(t.front(), 3);
  EXPECT_GE(t.back(), 3);
  EXPECT_GE(t.size(), 2u);
  EXPECT_EQ(nice_ticks(0, std::numeric_limits<double>::infinity()), (std::vector<double>{0, 1}));
  EXPECT_EQ(nice_ticks(std::nan(""), 1), (std::vector<double>{0, 1}));
  t = nice_ticks(12.3, 4567);
  EXPECT_LE(t.front(), 12.3);
  EXPECT_GE(t.back(), 4567);
  EXPECT_LE(t.size(), 12u);
  EXPECT_EQ(tick_label(0.15000000000000002, 0.05), "0.15");
  EXPECT_EQ(tick_label(2000, 500), "2000");
  EXPECT_EQ(tick_label(-1e-18, 0.2), "0.0");
}

TEST(SvgPlot, EscapesAndSkipsNonFinitePoints) {
  PlotSpec spec;
  spec.title = "a < b & \"c\"";
  spec.x_label = "x (ms)";
  spec.y_label = "y";
  PlotSeries series;
  series.name = "<i>";
  series.points = {{0, 0}, {1, std::nan("")}, {2, 4}};
  spec.series.push_back(series);
  std::string svg = render_svg(spec);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("a &lt; b &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_NE(svg.find("&lt;i&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<i>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  std::size_t poly = svg.find("points=\"");
  ASSERT_NE(poly, std::string::npos);
  std::string points = svg.substr(poly, svg.find("\"/>", poly) - poly);
  EXPECT_EQ(count_of(points, ","), 2u) << points;
}

}  // namespace
}  // namespace pagoda::bench
