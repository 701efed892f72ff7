// The load generator end to end against an in-process fake server whose
// timings are known: every protocol measures TTFT, ITL and token counts the
// server produced, and failures are classified.
#include <gtest/gtest.h>

#include <chrono>

#include "bench/client/bench_summary.h"
#include "bench/client/fake_stream_server.h"
#include "bench/client/load_runner.h"
#include "bench/client/target_client.h"
#include "tests/server/server_test_util.h"

namespace pagoda::bench {
namespace {

using std::chrono::milliseconds;

std::vector<BenchRequest> requests(int n, int max_tokens) {
  std::vector<BenchRequest> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out[static_cast<std::size_t>(i)].index = i;
    out[static_cast<std::size_t>(i)].prompt = "hello";
    out[static_cast<std::size_t>(i)].prompt_ids = {1, 2, 3};
    out[static_cast<std::size_t>(i)].prompt_tokens = 3;
    out[static_cast<std::size_t>(i)].max_tokens = max_tokens;
  }
  return out;
}

std::unique_ptr<TargetClient> client_for(const FakeStreamServer& server, const std::string& protocol) {
  TargetOptions t;
  t.protocol = protocol;
  t.port = protocol == "grpc" ? server.grpc_port() : server.http_port();
  t.model = "fake";
  t.request_timeout_s = 30;
  StatusOr<std::unique_ptr<TargetClient>> c = make_target_client(t);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return std::move(c).value();
}

class FakeServerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FakeServerTest, TimingsAndCountsMatchTheServer) {
  FakeStreamTiming timing;
  timing.ttft = milliseconds(60);
  timing.itl = milliseconds(15);
  FakeStreamServer server(timing);
  ASSERT_TRUE(server.start().ok());
  std::unique_ptr<TargetClient> client = client_for(server, GetParam());
  LoadOptions load;
  load.num_warmup = 1;
  load.max_concurrency = 4;
  LoadOutcome out = run_load(*client, requests(6, 5), load);
  ASSERT_EQ(out.records.size(), 7u);
  EXPECT_TRUE(out.records[0].warmup);
  BenchSummary s = summarize(out.records, out.duration_s, {50}, Slo{});
  EXPECT_EQ(s.completed, 6) << (s.errors.empty() ? "" : s.errors.begin()->first);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.total_output_tokens, 30);
  EXPECT_EQ(s.usage_reported, 6);
  EXPECT_EQ(s.usage_mismatches, 0);
  // Lower bounds are exact (the server slept that long); upper bounds are loose
  // so a loaded CI machine cannot fail them.
  EXPECT_GE(s.ttft_ms.min, 60.0);
  EXPECT_LT(s.ttft_ms.median, 1000.0);
  EXPECT_EQ(s.itl_ms.count, 24);
  EXPECT_LT(s.itl_ms.median, 500.0);
  EXPECT_EQ(s.tpot_ms.count, 6);
  // The last byte cannot arrive before the server finished sleeping.
  EXPECT_GE(s.e2e_ms.min, 60.0 + 4 * 15.0);
  for (const RequestRecord& r : out.records) {
    double sum = r.ttft_s;
    for (double gap : r.itl_s)
      sum += gap;
    EXPECT_LE(sum, r.e2e_s + 1e-9);  // first chunk + gaps = last chunk, before the end
  }
  EXPECT_GE(out.duration_s * 1000.0, 2 * (60.0 + 4 * 15.0) - 2.0);  // 6 requests, 4 at a time: two waves
  EXPECT_EQ(server.num_requests(), 7);
}

TEST_P(FakeServerTest, UsageMismatchIsReported) {
  FakeStreamTiming timing;
  timing.usage_delta = 2;
  FakeStreamServer server(timing);
  ASSERT_TRUE(server.start().ok());
  std::unique_ptr<TargetClient> client = client_for(server, GetParam());
  LoadOutcome out = run_load(*client, requests(3, 4), LoadOptions{});
  BenchSummary s = summarize(out.records, out.duration_s, {}, Slo{});
  EXPECT_EQ(s.completed, 3);
  EXPECT_EQ(s.usage_mismatches, 3);
  EXPECT_EQ(s.total_output_tokens, 18);  // the server's usage
  for (const RequestRecord& r : out.records)
    EXPECT_EQ(r.stream_tokens, 4);
}

INSTANTIATE_TEST_SUITE_P(Protocols, FakeServerTest,
                         ::testing::Values("grpc", "openai-chat", "openai-completions"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

TEST(FakeServerErrorsTest, HttpErrorsAreClassifiedWithTheServersMessage) {
  FakeStreamTiming timing;
  timing.http_status = 429;
  FakeStreamServer server(timing);
  ASSERT_TRUE(server.start().ok());
  std::unique_ptr<TargetClient> client = client_for(server, "openai-chat");
  LoadOutcome out = run_load(*client, requests(2, 3), LoadOptions{});
  BenchSummary s = summarize(out.records, out.duration_s, {}, Slo{});
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(s.errors["http_429"], 2);
  EXPECT_EQ(out.records[0].error_message, "fake error");
}

// A body the fake cannot use is answered 400 on that connection alone: the
// server thread does not throw (which would end the process) and keeps serving.
TEST(FakeServerErrorsTest, BadMaxTokensIsA400AndTheServerKeepsServing) {
  FakeStreamServer server(FakeStreamTiming{});
  ASSERT_TRUE(server.start().ok());
  for (const char* body : {R"({"max_tokens": "lots"})", R"({"max_tokens": -1})", R"({"max_tokens": 1.5})",
                           R"({"max_tokens": 99999999999})", R"({"max_tokens": null})", "[1]"}) {
    server::testing::HttpResponse r =
        server::testing::http_request(server.http_port(), "POST", "/v1/completions", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("fake error"), std::string::npos) << body;
  }
  server::testing::HttpResponse ok =
      server::testing::http_request(server.http_port(), "POST", "/v1/completions", R"({"max_tokens": 2})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(server::testing::sse_events(ok.body).size(), 4u);  // 2 tokens, usage, [DONE]
}

TEST(FakeServerErrorsTest, RefusedConnectionsAreClassified) {
  int ports[2] = {0, 0};
  {
    // Ports that were just free: nothing listens there once the server is gone.
    FakeStreamServer server(FakeStreamTiming{});
    ASSERT_TRUE(server.start().ok());
    ports[0] = server.http_port();
    ports[1] = server.grpc_port();
  }
  for (int i = 0; i < 2; ++i) {
    TargetOptions t;
    t.protocol = i == 0 ? "openai-completions" : "grpc";
    t.port = ports[i];
    t.model = "fake";
    t.request_timeout_s = 30;
    StatusOr<std::unique_ptr<TargetClient>> dead = make_target_client(t);
    ASSERT_TRUE(dead.ok());
    LoadOutcome refused = run_load(**dead, requests(1, 3), LoadOptions{});
    ASSERT_EQ(refused.records.size(), 1u);
    EXPECT_FALSE(refused.records[0].ok);
    EXPECT_EQ(refused.records[0].error_kind, i == 0 ? "connect" : "grpc_UNAVAILABLE");
  }
}

TEST(FakeServerLoadTest, RateAndDurationShapeTheRun) {
  FakeStreamServer server(FakeStreamTiming{});
  ASSERT_TRUE(server.start().ok());
  std::unique_ptr<TargetClient> client = client_for(server, "grpc");
  LoadOptions load;
  load.request_rate = 40;
  load.duration_s = 0.5;
  LoadOutcome out = run_load(*client, requests(3, 2), load);
  // ~20 arrivals in 0.5 s at 40/s (Poisson): bounds wide enough never to flake.
  EXPECT_GE(out.records.size(), 5u);
  EXPECT_LE(out.records.size(), 60u);
  for (const RequestRecord& r : out.records) {
    EXPECT_TRUE(r.ok) << r.error_kind;
    EXPECT_LT(r.start_s, 0.5);
  }
}

}  // namespace
}  // namespace pagoda::bench
