// The benchmark's metric definitions, on hand-built records with known values.
#include "bench/client/bench_summary.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pagoda::bench {
namespace {

RequestRecord record(double start, double ttft, std::vector<double> gaps, std::int32_t tokens,
                     bool ok = true) {
  RequestRecord r;
  r.ok = ok;
  r.start_s = start;
  r.ttft_s = ttft;
  r.itl_s = std::move(gaps);
  double e2e = ttft;
  for (double g : r.itl_s)
    e2e += g;
  r.e2e_s = e2e;
  r.prompt_tokens = 10;
  r.stream_tokens = tokens;
  return r;
}

TEST(BenchSummaryTest, DefinitionsMatchVllmOnKnownRecords) {
  std::vector<RequestRecord> records;
  // 3 tokens: TTFT 100 ms, gaps 20 + 40 ms -> E2E 160 ms, TPOT (160-100)/2 = 30 ms.
  records.push_back(record(0.0, 0.100, {0.020, 0.040}, 3));
  // 2 tokens: TTFT 200 ms, gap 50 ms -> E2E 250, TPOT 50.
  records.push_back(record(0.5, 0.200, {0.050}, 2));
  // 1 token: no TPOT, TTFT = E2E = 300.
  records.push_back(record(1.0, 0.300, {}, 1));
  RequestRecord warm = record(0, 5.0, {}, 1);
  warm.warmup = true;  // excluded everywhere
  records.push_back(warm);
  RequestRecord failed;
  failed.error_kind = "http_429";
  records.push_back(failed);

  BenchSummary s = summarize(records, 2.0, {50, 90}, Slo{});
  EXPECT_EQ(s.completed, 3);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.errors.at("http_429"), 1);
  EXPECT_EQ(s.total_input_tokens, 30);
  EXPECT_EQ(s.total_output_tokens, 6);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.5);
  EXPECT_DOUBLE_EQ(s.output_throughput, 3.0);
  EXPECT_DOUBLE_EQ(s.total_throughput, 18.0);
  EXPECT_EQ(s.ttft_ms.count, 3);
  EXPECT_NEAR(s.ttft_ms.mean, 200.0, 1e-9);
  EXPECT_NEAR(s.ttft_ms.median, 200.0, 1e-9);
  EXPECT_EQ(s.tpot_ms.count, 2);
  EXPECT_NEAR(s.tpot_ms.mean, 40.0, 1e-9);
  EXPECT_EQ(s.itl_ms.count, 3);  // pooled gaps 20, 40, 50
  EXPECT_NEAR(s.itl_ms.median, 40.0, 1e-9);
  EXPECT_NEAR(s.e2e_ms.max, 300.0, 1e-9);
  // numpy.percentile([100, 200, 300], 90) = 280.
  ASSERT_EQ(s.ttft_ms.percentiles.size(), 2u);
  EXPECT_NEAR(s.ttft_ms.percentiles[1].second, 280.0, 1e-9);
  EXPECT_EQ(s.goodput, 0.0);  // no SLO
}

TEST(BenchSummaryTest, UsageWinsOverStreamCountAndMismatchesAreCounted) {
  RequestRecord r = record(0, 0.1, {0.01, 0.01, 0.01}, 4);
  r.usage_completion_tokens = 5;
  r.usage_prompt_tokens = 12;
  RequestRecord same = record(0, 0.1, {0.01}, 2);
  same.usage_completion_tokens = 2;
  BenchSummary s = summarize({r, same}, 1.0, {}, Slo{});
  EXPECT_EQ(s.total_output_tokens, 7);
  EXPECT_EQ(s.total_input_tokens, 22);
  EXPECT_EQ(s.usage_reported, 2);
  EXPECT_EQ(s.usage_mismatches, 1);
  // TPOT of r uses the usage count: (130 - 100) / 4.
  EXPECT_NEAR(s.tpot_ms.min, 7.5, 1e-9);
}

TEST(BenchSummaryTest, GoodputCountsRequestsMeetingEveryObjective) {
  std::vector<RequestRecord> records = {
      record(0, 0.100, {0.020, 0.020}, 3),  // ttft 100, tpot 20: good
      record(0, 0.600, {0.020, 0.020}, 3),  // ttft 600: misses ttft
      record(0, 0.100, {0.090, 0.090}, 3),  // tpot 90: misses tpot
  };
  StatusOr<Slo> slo = parse_slo("ttft=500ms,tpot=0.05s");
  ASSERT_TRUE(slo.ok()) << slo.status().message();
  EXPECT_DOUBLE_EQ(slo->ttft_ms, 500);
  EXPECT_DOUBLE_EQ(slo->tpot_ms, 50);
  BenchSummary s = summarize(records, 2.0, {}, *slo);
  EXPECT_EQ(s.good_requests, 1);
  EXPECT_DOUBLE_EQ(s.goodput, 0.5);
}

TEST(BenchSummaryTest, PercentilesInterpolateLikeNumpy) {
  Distribution d = distribution({4, 1, 3, 2}, {25, 99, 100});
  EXPECT_DOUBLE_EQ(d.median, 2.5);
  EXPECT_DOUBLE_EQ(d.percentiles[0].second, 1.75);
  EXPECT_NEAR(d.percentiles[1].second, 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(d.percentiles[2].second, 4);
  EXPECT_NEAR(d.stddev, std::sqrt(1.25), 1e-12);
  Distribution empty = distribution({}, {50});
  EXPECT_EQ(empty.count, 0);
  EXPECT_EQ(empty.mean, 0);
}

TEST(BenchSummaryTest, BadSloAndPercentilesNameTheFlag) {
  for (const char* bad : {"ttft", "ttft=fast", "ttft=-5ms", "latency=5ms", "tpot=0"}) {
    StatusOr<Slo> s = parse_slo(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find("--slo"), std::string::npos);
  }
  EXPECT_TRUE(parse_slo("e2e=2s,itl=80").ok());
  EXPECT_FALSE(parse_percentiles("50,101").ok());
  EXPECT_FALSE(parse_percentiles("0").ok());
  EXPECT_FALSE(parse_percentiles("p99").ok());
  StatusOr<std::vector<double>> p = parse_percentiles("50, 99.9");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (std::vector<double>{50, 99.9}));
}

}  // namespace
}  // namespace pagoda::bench
