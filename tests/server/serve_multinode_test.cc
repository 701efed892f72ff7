// `pagoda serve` as a multi-node group, as an operator (or LeaderWorkerSet)
// starts it: one process per node, node 0 serving the APIs. Two processes on
// this machine stand for two nodes, with the CPU backend's socket collectives.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/engine/multinode/loopback_group.h"
#include "tests/server/serve_process.h"
#include "tests/server/server_test_util.h"

namespace pagoda::server::testing {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

using multinode::testing::free_port;

std::vector<std::string> serve_args(int tp) {
  return {"serve",
          "--model",
          tiny_model_dir(),
          "--served-model-name",
          "tiny",
          "--grpc-port",
          "0",
          "--http-port",
          "0",
          "--metrics-port",
          "0",
          "--num-threads",
          "1",
          "--num-kv-blocks",
          "256",
          "--log-level",
          "warn",
          "--tp",
          std::to_string(tp),
          "--shutdown-timeout",
          "30"};
}

std::vector<std::string> node_args(int node_rank, int leader_port) {
  std::vector<std::string> a = serve_args(2);
  for (const std::string& x :
       {std::string("--nnodes"), std::string("2"), std::string("--node-rank"), std::to_string(node_rank),
        std::string("--leader-address"), std::string("127.0.0.1"), std::string("--leader-port"),
        std::to_string(leader_port)})
    a.push_back(x);
  return a;
}

bool wait_healthy(int http_port) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (http_request(http_port, "GET", "/health").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Greedy completions of a few prompts, as text.
std::vector<std::string> completions(int http_port) {
  std::vector<std::string> out;
  for (const char* prompt : {"The capital of France is", "Once upon a time", "def fibonacci(n):"}) {
    Json body = {
        {"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 12}, {"temperature", 0}, {"ignore_eos", true}};
    HttpResponse r = http_request(http_port, "POST", "/v1/completions", body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    Json j = Json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded()) return out;
    EXPECT_EQ(j["usage"]["completion_tokens"], 12) << r.body;
    out.push_back(j["choices"][0]["text"].get<std::string>());
  }
  return out;
}

// The value of `name`{node_rank="1",nnodes="2"} on the worker's /metrics, or -1.
double worker_sample(ServeProcess& worker, const std::string& name) {
  if (worker.metrics_port() == 0) return -1;
  HttpResponse r = http_request(worker.metrics_port(), "GET", "/metrics");
  const std::string key = name + "{node_rank=\"1\",nnodes=\"2\"} ";
  const std::size_t at = r.body.find(key);
  if (r.status != 200 || at == std::string::npos) {
    ADD_FAILURE() << name << " not on the worker's /metrics:\n" << r.body;
    return -1;
  }
  return std::stod(r.body.substr(at + key.size()));
}

TEST(ServeMultiNodeTest, TwoNodesAnswerExactlyAsOneProcessAndStopTogether) {
  std::vector<std::string> expected;
  {
    ServeProcess single;
    ASSERT_TRUE(single.start(serve_args(2)));
    ASSERT_TRUE(wait_healthy(single.http_port()));
    expected = completions(single.http_port());
    kill(single.pid(), SIGTERM);
    EXPECT_EQ(single.wait_exit(std::chrono::seconds(60)), 0);
  }
  ASSERT_EQ(expected.size(), 3u);

  const int leader_port = free_port();
  ServeProcess worker, leader;
  // The worker may start first: it retries until the leader listens.
  ASSERT_TRUE(worker.start(node_args(1, leader_port), /*wait_for_ports=*/false));
  ASSERT_TRUE(leader.start(node_args(0, leader_port)));
  ASSERT_TRUE(worker.wait_for_output("node 1 of 2 joined", std::chrono::seconds(60)));
  ASSERT_TRUE(wait_healthy(leader.http_port()));
  const double steps_before = worker_sample(worker, "pagoda_node_steps_total");
  EXPECT_EQ(completions(leader.http_port()), expected);
  // The worker's /metrics says it joined and ran the leader's steps: three
  // requests one after another, at least one step for each of their 12 tokens.
  // The worker counts a step once its own part of it has returned, which can
  // be just after the leader answered: read until the count arrives.
  EXPECT_EQ(worker_sample(worker, "pagoda_node_joined"), 1.0);
  double steps_run = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    steps_run = worker_sample(worker, "pagoda_node_steps_total") - steps_before;
    if (steps_run >= 36.0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(steps_run, 36.0);

  // SIGTERM to the worker alone (a rolling update signals every pod) does not
  // stop it while the leader still needs it.
  kill(worker.pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(completions(leader.http_port()), expected);
  // The leader drains, stops the group, and both exit cleanly.
  kill(leader.pid(), SIGTERM);
  EXPECT_EQ(leader.wait_exit(std::chrono::seconds(60)), 0);
  EXPECT_EQ(worker.wait_exit(std::chrono::seconds(30)), 0);
}

// A worker node dies: requests fail with a clear error instead of hanging,
// /health turns 503 (so the load balancer stops sending), and the leader,
// which can never run a step again, drains and exits 1 by itself (so the
// orchestrator restarts it; its log says why).
TEST(ServeMultiNodeTest, LostWorkerFailsRequestsFastAndTheLeaderExits) {
  const int leader_port = free_port();
  ServeProcess worker, leader;
  ASSERT_TRUE(worker.start(node_args(1, leader_port), /*wait_for_ports=*/false));
  ASSERT_TRUE(leader.start(node_args(0, leader_port)));
  ASSERT_TRUE(wait_healthy(leader.http_port()));
  kill(worker.pid(), SIGKILL);
  EXPECT_EQ(worker.wait_exit(std::chrono::seconds(10)), -1);  // killed, not exited

  Json body = {{"model", "tiny"}, {"prompt", "Hello"}, {"max_tokens", 8}, {"ignore_eos", true}};
  const auto t0 = Clock::now();
  HttpResponse r = http_request(leader.http_port(), "POST", "/v1/completions", body.dump());
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("multi-node group is broken"), std::string::npos) << r.body;
  EXPECT_LT(secs, 30.0);
  // 503 until the leader's next look at its engine (every second) starts its
  // exit; no answer (status 0) once its listeners have closed.
  HttpResponse health = http_request(leader.http_port(), "GET", "/health");
  if (health.status != 0) {
    EXPECT_EQ(health.status, 503) << health.body;
  }
  EXPECT_EQ(leader.wait_exit(std::chrono::seconds(60)), 1);  // no signal sent
}

// A node started with other settings is refused by name on both sides.
TEST(ServeMultiNodeTest, MismatchedNodeIsRefusedNamingTheFlag) {
  const int leader_port = free_port();
  std::vector<std::string> worker_args = node_args(1, leader_port);
  worker_args.push_back("--block-size");
  worker_args.push_back("32");
  ServeProcess worker, leader;
  ASSERT_TRUE(worker.start(worker_args, /*wait_for_ports=*/false));
  ASSERT_TRUE(leader.start(node_args(0, leader_port)));
  EXPECT_EQ(worker.wait_exit(std::chrono::seconds(60)), 1);
  EXPECT_EQ(leader.wait_exit(std::chrono::seconds(60)), 1);
}

}  // namespace
}  // namespace pagoda::server::testing
