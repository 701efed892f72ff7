#include "bench/client/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace pagoda::bench {
namespace {

constexpr char kTricky[] =
    "# HELP vllm:num_requests_waiting Number of requests waiting, with \\\"escapes\\\".\n"
    "# TYPE vllm:num_requests_waiting gauge\n"
    "vllm:num_requests_waiting{engine=\"0\",model_name=\"qwen, \\\"the\\\" model\\\\x\\nline\"} 3\n"
    "vllm:num_requests_waiting{engine=\"1\",model_name=\"other\"} 4 1700000000000\n"
    "\n"
    "http_requests_total{method=\"post\",code=\"200\",} 1027 -1395066363000\n"
    "metric_without_labels 12.47\n"
    "spaced_labels { a = \"1\" , b=\"{}\\q\" }\t2e3\n"
    "something_weird{problem=\"division by zero\"} +Inf\n"
    "neg_inf{a=\"b\"} -Inf\n"
    "not_a_number NaN\n"
    "empty_labels{} 1.5e-3\n"
    "  # an indented comment\n"
    "# a free comment that mentions TYPE\n"
    "   leading_space_metric 5\n"
    "crlf_metric 7\r\n"
    "huge 1e999\n"
    "this is garbage\n"
    "bad_unterminated{label=\"never closed} 1\n"
    "bad_label_name{1abc=\"x\"} 1\n"
    "bad_too_many_fields 1 2 3\n"
    "bad_missing_comma{a=\"b\" c=\"d\"} 1\n"
    "bad_value notanumber\n"
    "bad_duplicate{a=\"b\",a=\"c\"} 1\n"
    "# TYPE only_a_name\n"
    "# TYPE x notatype\n"
    "{a=\"b\"} 1\n"
    "bad_no_space{a=\"b\"}1\n"
    "bad_timestamp 1 12.5\n"
    "bad_double_sign ++1\n"
    "bad_no_value{a=\"b\"}\n"
    "bad_unquoted{a=b} 1\n"
    "last_line_without_newline 42";

constexpr int kTrickyBadLines = 15;

TEST(PrometheusText, ParsesTrickyExposition) {
  int bad = -1;
  std::vector<PromSample> samples = parse_prometheus_text(kTricky, &bad);
  EXPECT_EQ(bad, kTrickyBadLines);
  ASSERT_EQ(samples.size(), 13u);

  const PromSample& w0 = samples[0];
  EXPECT_EQ(w0.name, "vllm:num_requests_waiting");
  ASSERT_EQ(w0.labels.size(), 2u);
  EXPECT_EQ(w0.labels[0], (std::pair<std::string, std::string>("engine", "0")));
  EXPECT_EQ(w0.labels[1].first, "model_name");
  EXPECT_EQ(w0.labels[1].second, "qwen, \"the\" model\\x\nline");
  EXPECT_EQ(*w0.label("model_name"), "qwen, \"the\" model\\x\nline");
  EXPECT_EQ(w0.label("missing"), nullptr);
  EXPECT_EQ(w0.value, 3);
  EXPECT_FALSE(w0.timestamp_ms.has_value());

  EXPECT_EQ(samples[1].value, 4);
  ASSERT_TRUE(samples[1].timestamp_ms.has_value());
  EXPECT_EQ(*samples[1].timestamp_ms, 1700000000000);

  EXPECT_EQ(samples[2].name, "http_requests_total");
  EXPECT_EQ(samples[2].labels.size(), 2u);  // trailing comma accepted
  EXPECT_EQ(samples[2].value, 1027);
  EXPECT_EQ(*samples[2].timestamp_ms, -1395066363000);

  EXPECT_EQ(samples[3].name, "metric_without_labels");
  EXPECT_DOUBLE_EQ(samples[3].value, 12.47);

  EXPECT_EQ(samples[4].name, "spaced_labels");
  EXPECT_EQ(*samples[4].label("a"), "1");
  EXPECT_EQ(*samples[4].label("b"), "{}\\q");  // unknown escape kept as written
  EXPECT_EQ(samples[4].value, 2000);

  EXPECT_EQ(samples[5].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(samples[6].value, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(samples[7].value));
  EXPECT_EQ(samples[8].name, "empty_labels");
  EXPECT_TRUE(samples[8].labels.empty());
  EXPECT_DOUBLE_EQ(samples[8].value, 1.5e-3);
  EXPECT_EQ(samples[9].name, "leading_space_metric");
  EXPECT_EQ(samples[10].name, "crlf_metric");
  EXPECT_EQ(samples[10].value, 7);
  EXPECT_EQ(samples[11].name, "huge");
  EXPECT_EQ(samples[11].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(samples[12].name, "last_line_without_newline");
  EXPECT_EQ(samples[12].value, 42);
}

TEST(PrometheusText, CountsEachBadLineOnce) {
  int bad = -1;
  EXPECT_TRUE(parse_prometheus_text("", &bad).empty());
  EXPECT_EQ(bad, 0);
  EXPECT_TRUE(parse_prometheus_text("\n\n# just a comment\n", &bad).empty());
  EXPECT_EQ(bad, 0);
  EXPECT_TRUE(parse_prometheus_text("garbage\n{}\n\"\n\\\n", &bad).empty());
  EXPECT_EQ(bad, 4);
  EXPECT_EQ(parse_prometheus_text("ok 1\nnot ok\n").size(), 1u);  // a null counter pointer is allowed
}

TEST(PrometheusText, NeverCrashesOnTruncatedOrRandomInput) {
  std::string text = kTricky;
  for (std::size_t n = 0; n <= text.size(); ++n) {
    int bad = 0;
    auto samples = parse_prometheus_text(std::string_view(text).substr(0, n), &bad);
    EXPECT_LE(samples.size() + static_cast<std::size_t>(bad), 64u);
  }
  std::mt19937 rng(7);
  const std::string alphabet = "ab_:{}=\",\\ \t\n#0123456789.eE+-InfNa\r";
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    int len = static_cast<int>(rng() % 80);
    for (int i = 0; i < len; ++i) {
      s.push_back(rng() % 8 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()]);
    }
    int bad = 0;
    auto samples = parse_prometheus_text(s, &bad);
    for (const PromSample& p : samples)
      EXPECT_FALSE(p.name.empty());
  }
}

TEST(PrometheusText, AggregatesAcrossLabelSets) {
  auto samples = parse_prometheus_text(
      "g{model=\"a\"} 0.25\n"
      "g{model=\"b\"} 0.5\n"
      "g{model=\"c\"} NaN\n"
      "other 7\n"
      "only_nan NaN\n");
  EXPECT_EQ(sum_metric(samples, "g"), 0.75);
  EXPECT_EQ(aggregate_metric(samples, "g", PromAggregate::kMax), 0.5);
  EXPECT_EQ(sum_metric(samples, "other"), 7);
  EXPECT_FALSE(sum_metric(samples, "only_nan").has_value());
  EXPECT_FALSE(sum_metric(samples, "absent").has_value());
  EXPECT_FALSE(sum_metric(samples, "g{model").has_value());
  EXPECT_EQ(first_metric(samples, {"absent", "other", "g"}), 7);
  EXPECT_EQ(first_metric(samples, {"g", "other"}), 0.75);
  EXPECT_FALSE(first_metric(samples, {"absent", "only_nan"}).has_value());
}

}  // namespace
}  // namespace pagoda::bench
