// `pagoda bench serve` as a user runs it, against a real Pagoda server (tiny
// random-weight model, real tokenizer) over gRPC and both OpenAI protocols:
// every request completes with exactly the forced output length, the
// server's metrics are scraped, and the reports are written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/cli_run.h"
#include "tests/server/server_test_util.h"
#include "tests/test_temp_dir.h"

namespace pagoda::server::testing {
namespace {

using Json = nlohmann::json;

CliRun run_pagoda(const std::string& args) {
  return run_cli(PAGODA_BINARY, args);
}

Json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str(), nullptr, false);
}

class BenchServeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = start_server(test_options());
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->shutdown(std::chrono::seconds(5));
  }
  std::string common(const std::string& protocol, int port) const {
    return "bench serve --protocol " + protocol + " --target 127.0.0.1:" + std::to_string(port) +
           " --dataset random --input-len 24 --output-len 6 --num-prompts 8 --max-concurrency 4 --num-warmup "
           "2"
           " --no-progress --seed 11 --metrics-url http://127.0.0.1:" +
           std::to_string(server_->metrics_port()) + "/metrics --metrics-interval-ms 100";
  }
  std::unique_ptr<Server> server_;
};

TEST_F(BenchServeCliTest, EveryProtocolCompletesWithForcedLengthsAndServerView) {
  struct Case {
    std::string protocol;
    int port;
  };
  for (const Case& c : {Case{"grpc", server_->grpc_port()}, Case{"openai-chat", server_->http_port()},
                        Case{"openai-completions", server_->http_port()}}) {
    SCOPED_TRACE(c.protocol);
    std::string json_path = pagoda_test_temp_dir() + "/bench_" + c.protocol + ".json";
    CliRun r = run_pagoda(common(c.protocol, c.port) + " --slo ttft=60s --output-json " + json_path +
                          " --save-records");
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("Serving Benchmark Result"), std::string::npos) << r.out;
    Json j = read_json(json_path);
    ASSERT_TRUE(j.is_object()) << json_path;
    ASSERT_EQ(j["runs"].size(), 1u);
    const Json& run = j["runs"][0];
    const Json& s = run["summary"];
    EXPECT_EQ(s["completed"], 8) << s.dump();
    EXPECT_EQ(s["failed"], 0);
    EXPECT_EQ(s["total_output_tokens"], 8 * 6);  // ignore_eos forces max_tokens exactly
    EXPECT_EQ(s["usage_reported"], 8);
    if (c.protocol == "grpc") {
      EXPECT_EQ(s["usage_mismatches"], 0);  // token ids are counted exactly
    }
    // SSE chunks carry text: one may hold several tokens (held-back UTF-8) or
    // none (a special token), so the stream count is a lower bound of usage.
    for (const Json& rec : run["records"]) {
      EXPECT_GE(rec["stream_tokens"].get<int>(), 1);
      EXPECT_LE(rec["stream_tokens"].get<int>(), rec["usage_completion_tokens"].get<int>());
    }
    EXPECT_EQ(s["good_requests"], 8);
    EXPECT_EQ(run["records"].size(), 10u);  // 2 warm-up + 8
    const Json& view = run["server"];
    ASSERT_TRUE(view["available"].get<bool>()) << view.dump();
    // The server counted exactly the measured requests' tokens (warm-up excluded).
    EXPECT_EQ(view["generation_tokens"].get<double>(), 8 * 6) << view.dump();
    EXPECT_GE(view["num_running_max"].get<double>(), 0.0);
  }
}

TEST_F(BenchServeCliTest, SweepWritesCsvAndHtmlAndPrefixWorkloadHitsTheCache) {
  std::string csv = pagoda_test_temp_dir() + "/sweep.csv";
  std::string html = pagoda_test_temp_dir() + "/sweep.html";
  std::string json_path = pagoda_test_temp_dir() + "/sweep.json";
  CliRun r =
      run_pagoda("bench serve --protocol grpc --target 127.0.0.1:" + std::to_string(server_->grpc_port()) +
                 " --dataset prefix-repetition --num-prefixes 2 --prefix-len 64 --suffix-len 8"
                 " --output-len 3 --num-prompts 8 --sweep concurrency=1,4 --no-progress --metrics-url"
                 " http://127.0.0.1:" +
                 std::to_string(server_->metrics_port()) + "/metrics --output-csv " + csv +
                 " --output-html " + html + " --output-json " + json_path);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  Json j = read_json(json_path);
  ASSERT_EQ(j["runs"].size(), 2u);
  for (const Json& run : j["runs"]) {
    EXPECT_EQ(run["summary"]["completed"], 8);
    // 64-token prefixes are 4 full blocks of 16: later requests reuse them.
    EXPECT_GT(run["server"]["prefix_cache_hit_rate"].get<double>(), 0.3) << run["server"].dump();
  }
  std::ifstream csv_in(csv);
  std::string line;
  int lines = 0;
  while (std::getline(csv_in, line))
    ++lines;
  EXPECT_EQ(lines, 3);  // header + one row per level
  std::ifstream html_in(html);
  std::stringstream ss;
  ss << html_in.rdbuf();
  EXPECT_NE(ss.str().find("<svg"), std::string::npos);
}

TEST_F(BenchServeCliTest, BadFlagsAndDeadTargetsAreClearErrors) {
  CliRun r = run_pagoda("bench serve --protocol smtp --target 127.0.0.1:1 --num-prompts 1 --no-progress");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--protocol"), std::string::npos) << r.err;
  r = run_pagoda("bench serve --slo ttft=soon --no-progress");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--slo"), std::string::npos) << r.err;
  r = run_pagoda("bench serve --dataset sharegpt --dataset-path /nonexistent.json --no-progress");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent.json"), std::string::npos) << r.err;
  // Nothing listens on port 1: every request fails, the table says why, exit 1.
  r = run_pagoda(
      "bench serve --protocol grpc --target 127.0.0.1:1 --num-prompts 2 --input-len 4 --output-len 2"
      " --no-progress --request-timeout 5");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("grpc_UNAVAILABLE"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("no request completed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pagoda::server::testing
