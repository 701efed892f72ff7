// Soak (issue 10): many concurrent streams over both front ends for a bounded
// time — PAGODA_SOAK_SECONDS, 20 by default (`make soak` runs 300) — with
// random lengths, client cancellations, HTTP disconnects mid-stream and
// deadline expiries, on a KV cache small enough to force preemption. After it:
// every KV block is free, nothing is running or waiting, RSS grew by less than
// a stated bound, and every request that was not cut short got exactly the
// tokens the same request gets alone (greedy; the CPU backend is batch
// invariant).
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "pagoda/v1/pagoda.grpc.pb.h"
#include "tests/server/server_test_util.h"

namespace pagoda::server::testing {
namespace {

constexpr int kNumPrompts = 12;
constexpr int kMaxTokens = 48;
constexpr int kNumClients = 48;
constexpr double kRssBoundMiB = 256;

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

v1::GenerateRequest request_for(int prompt, int max_tokens) {
  v1::GenerateRequest r;
  for (int i = 0; i < 8 + prompt * 5; ++i)
    r.mutable_token_ids()->add_ids(100 + prompt * 37 + i * 11);
  r.mutable_sampling()->set_max_tokens(max_tokens);
  r.mutable_sampling()->set_temperature(0);
  r.mutable_sampling()->set_ignore_eos(true);
  return r;
}

struct SoakCounts {
  std::atomic<int> completed{0}, cancelled{0}, deadlines{0}, disconnects{0}, mismatches{0}, errors{0};
};

TEST(SoakTest, StreamsCancellationsDisconnectsAndDeadlines) {
  const char* env = std::getenv("PAGODA_SOAK_SECONDS");
  double seconds = env != nullptr ? std::atof(env) : 20.0;
  ServeOptions o = test_options();
  o.num_kv_blocks = 96;  // 48 clients with up to ~110 tokens each cannot all fit: preemption happens
  std::unique_ptr<Server> server = start_server(o);
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Pagoda::NewStub(channel);

  // References: each prompt alone, the longest length (shorter requests are prefixes).
  std::vector<std::vector<int>> reference(kNumPrompts);
  for (int p = 0; p < kNumPrompts; ++p) {
    grpc::ClientContext ctx;
    v1::GenerateOnceResponse resp;
    ASSERT_TRUE(stub->GenerateOnce(&ctx, request_for(p, kMaxTokens), &resp).ok());
    reference[p].assign(resp.choices(0).token_ids().begin(), resp.choices(0).token_ids().end());
    ASSERT_EQ(reference[p].size(), static_cast<std::size_t>(kMaxTokens));
  }
  double rss_before = rss_mib();

  SoakCounts n;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto client = [&](int seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    while (std::chrono::steady_clock::now() < deadline) {
      int prompt = static_cast<int>(rng() % kNumPrompts);
      int max_tokens = 1 + static_cast<int>(rng() % kMaxTokens);
      int action = static_cast<int>(rng() % 100);
      if (action < 8) {  // HTTP: disconnect mid-stream
        int fd = connect_to(server->http_port());
        if (fd < 0) {
          ++n.errors;
          continue;
        }
        std::string body =
            R"({"prompt":[1,2,3,4,5,6,7,8,9,10],"max_tokens":200,"ignore_eos":true,"stream":true})";
        std::string req =
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        char buf[512];
        (void)::recv(fd, buf, sizeof(buf), 0);  // the first bytes of the stream
        ::close(fd);
        ++n.disconnects;
        continue;
      }
      grpc::ClientContext ctx;
      bool short_deadline = action < 16;
      if (short_deadline)
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(rng() % 40));
      int cancel_after = action < 30 ? 1 + static_cast<int>(rng() % 8) : -1;
      auto reader = stub->Generate(&ctx, request_for(prompt, max_tokens));
      std::vector<int> got;
      v1::GenerateResponse resp;
      bool cancelled = false;
      while (reader->Read(&resp)) {
        got.insert(got.end(), resp.token_ids().begin(), resp.token_ids().end());
        if (cancel_after >= 0 && static_cast<int>(got.size()) >= cancel_after && !cancelled) {
          ctx.TryCancel();
          cancelled = true;
        }
      }
      grpc::Status status = reader->Finish();
      if (status.ok()) {
        ++n.completed;
        std::vector<int> want(reference[prompt].begin(), reference[prompt].begin() + max_tokens);
        if (got != want) ++n.mismatches;
      } else if (status.error_code() == grpc::StatusCode::CANCELLED && cancelled) {
        ++n.cancelled;
      } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && short_deadline) {
        ++n.deadlines;
      } else {
        ++n.errors;
        std::fprintf(stderr, "unexpected status %d: %s\n", static_cast<int>(status.error_code()),
                     status.error_message().c_str());
      }
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < kNumClients; ++i)
    clients.emplace_back(client, i + 1);
  for (std::thread& t : clients)
    t.join();

  EXPECT_TRUE(wait_all_blocks_free(*server, std::chrono::seconds(30)));
  EngineStats stats = server->engine().stats();
  EXPECT_EQ(stats.num_running, 0);
  EXPECT_EQ(stats.num_waiting, 0);
  double rss_after = rss_mib();
  std::printf(
      "soak %.0f s, %d clients: %d completed, %d cancelled, %d deadlines, %d disconnects, %d errors, %d "
      "mismatches; "
      "%lld preemptions; RSS %.0f -> %.0f MiB\n",
      seconds, kNumClients, n.completed.load(), n.cancelled.load(), n.deadlines.load(), n.disconnects.load(),
      n.errors.load(), n.mismatches.load(), static_cast<long long>(stats.num_preemptions), rss_before,
      rss_after);
  EXPECT_EQ(n.mismatches, 0);
  EXPECT_EQ(n.errors, 0);
  EXPECT_GT(n.completed, 0);
  EXPECT_GT(n.cancelled + n.deadlines + n.disconnects, 0);
  EXPECT_LT(rss_after - rss_before, kRssBoundMiB);
  server->shutdown(std::chrono::seconds(10));
}

}  // namespace
}  // namespace pagoda::server::testing
