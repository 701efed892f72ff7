// Arrivals, sweeps and the SSE parser: the load generator's pure parts.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "bench/client/arrival_schedule.h"
#include "bench/client/sse_parser.h"
#include "bench/client/sweep.h"

namespace pagoda::bench {
namespace {

TEST(ArrivalScheduleTest, PoissonAndGammaHaveTheAskedMeanRate) {
  for (double burstiness : {1.0, 0.25, 4.0}) {
    std::vector<double> t = arrival_times(20001, 50.0, burstiness, 7);
    ASSERT_EQ(t.size(), 20001u);
    EXPECT_EQ(t[0], 0.0);
    EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
    double rate = 20000.0 / t.back();
    EXPECT_NEAR(rate, 50.0, 2.5) << burstiness;
    // Coefficient of variation of the gaps is 1/sqrt(shape).
    std::vector<double> gaps(t.size() - 1);
    for (std::size_t i = 1; i < t.size(); ++i)
      gaps[i - 1] = t[i] - t[i - 1];
    double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / static_cast<double>(gaps.size());
    double var = 0;
    for (double g : gaps)
      var += (g - mean) * (g - mean);
    double cv = std::sqrt(var / static_cast<double>(gaps.size())) / mean;
    EXPECT_NEAR(cv, 1.0 / std::sqrt(burstiness), 0.1 / std::sqrt(burstiness)) << burstiness;
  }
  EXPECT_EQ(arrival_times(5, 50.0, 1.0, 7), arrival_times(5, 50.0, 1.0, 7));
  EXPECT_NE(arrival_times(5, 50.0, 1.0, 7), arrival_times(5, 50.0, 1.0, 8));
  std::vector<double> burst = arrival_times(4, std::numeric_limits<double>::infinity(), 1.0, 1);
  EXPECT_EQ(burst, (std::vector<double>{0, 0, 0, 0}));
}

TEST(SweepTest, ParsesLevelsAndRejectsBadOnes) {
  StatusOr<SweepSpec> r = parse_sweep("rate=1,2.5,inf");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->kind, SweepSpec::Kind::kRate);
  ASSERT_EQ(r->levels.size(), 3u);
  EXPECT_TRUE(std::isinf(r->levels[2]));
  StatusOr<SweepSpec> c = parse_sweep("concurrency=1,4,16");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, SweepSpec::Kind::kConcurrency);
  for (const char* bad :
       {"rate=4,2", "rate=1", "qps=1,2", "concurrency=1,2.5", "concurrency=1,inf", "rate=0,1"})
    EXPECT_FALSE(parse_sweep(bad).ok()) << bad;
}

BenchRun level(const char* label, double throughput, double tpot, std::int64_t failed = 0) {
  BenchRun r;
  r.label = label;
  r.summary.output_throughput = throughput;
  r.summary.tpot_ms.median = tpot;
  r.summary.failed = failed;
  return r;
}

TEST(SweepTest, SaturationIsWhereThroughputStopsGrowing) {
  BenchResult result;
  result.runs = {level("c=1", 100, 10), level("c=2", 190, 11), level("c=4", 350, 12), level("c=8", 370, 22),
                 level("c=16", 372, 43)};
  find_saturation(result);
  EXPECT_EQ(result.saturation_index, 2);
  EXPECT_NE(result.saturation_reason.find("c=4 -> c=8"), std::string::npos) << result.saturation_reason;

  result.runs = {level("r=1", 100, 10), level("r=2", 200, 10), level("r=4", 400, 10, 3)};
  find_saturation(result);
  EXPECT_EQ(result.saturation_index, 1);  // failures appear at r=4

  result.runs = {level("r=1", 100, 10), level("r=2", 200, 10)};
  find_saturation(result);
  EXPECT_EQ(result.saturation_index, -1);
}

TEST(SseParserTest, EventsSplitAnywhereAndCrLf) {
  std::string stream =
      ": comment\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\ndata:[DONE]\n\n";
  for (std::size_t piece : {1u, 3u, 7u, 1000u}) {
    SseParser p;
    std::vector<std::string> events;
    for (std::size_t i = 0; i < stream.size(); i += piece)
      for (std::string& e : p.feed(std::string_view(stream).substr(i, piece)))
        events.push_back(std::move(e));
    ASSERT_EQ(events.size(), 3u) << piece;
    EXPECT_EQ(events[0], "{\"a\":1}");
    EXPECT_EQ(events[1], "line1\nline2");
    EXPECT_EQ(events[2], "[DONE]");
    EXPECT_EQ(p.pending_bytes(), 0u);
  }
  SseParser p;
  EXPECT_TRUE(p.feed("data: unfinished").empty());
  EXPECT_GT(p.pending_bytes(), 0u);
}

}  // namespace
}  // namespace pagoda::bench
