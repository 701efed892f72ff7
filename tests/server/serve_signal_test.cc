// `pagoda serve` as an operator runs it, drained by SIGTERM in the middle of
// a soak (issue 10, "drain under load"): clients stream over gRPC and HTTP with
// random lengths and cancellations; the signal arrives while streams are in
// flight. Every request ends one of three ways — complete with exactly its
// forced length, refused before any token (UNAVAILABLE / 503 / connection
// refused once the listeners close), or cancelled by its own client — never
// cut short; and the process exits 0.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pagoda/v1/pagoda.grpc.pb.h"
#include "tests/server/serve_process.h"
#include "tests/server/server_test_util.h"

namespace pagoda::server::testing {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Outcomes {
  std::atomic<int> completed{0}, refused{0}, cancelled{0}, in_flight{0};
  std::mutex mutex;
  std::vector<std::string> failures;  // guarded by mutex
  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    failures.push_back(what);
  }
};

TEST(ServeSignalTest, SigtermDuringSoakCompletesEveryAcceptedRequestAndExitsZero) {
  ServeProcess serve;
  ASSERT_TRUE(serve.start({"serve", "--model", tiny_model_dir(), "--served-model-name", "tiny", "--grpc-port",
                           "0", "--http-port", "0", "--metrics-port", "0", "--num-threads", "2",
                           "--num-kv-blocks", "512", "--log-level", "warn", "--shutdown-timeout", "60"}))
      << "pagoda serve did not announce its ports";
  const int grpc_port = serve.grpc_port(), http_port = serve.http_port();
  // The listeners come up before the model loads; start once it serves.
  const auto ready_by = Clock::now() + std::chrono::seconds(60);
  while (http_request(http_port, "GET", "/health").status != 200 && Clock::now() < ready_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(http_request(http_port, "GET", "/health").status, 200) << "pagoda serve never became ready";
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials());
  auto stub = v1::Pagoda::NewStub(channel);

  Outcomes o;
  std::atomic<bool> signalled{false}, stop{false};
  constexpr int kGrpcClients = 8, kHttpClients = 4;
  std::vector<std::thread> clients;
  for (int c = 0; c < kGrpcClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      while (!stop) {
        const bool after_signal = signalled;
        const int max_tokens = 5 + static_cast<int>(rng() % 36);
        const bool cancel = rng() % 5 == 0;
        v1::GenerateRequest req;
        for (int id : {11, 22, 33, static_cast<int>(40 + rng() % 50)})
          req.mutable_token_ids()->add_ids(id);
        req.mutable_sampling()->set_max_tokens(max_tokens);
        req.mutable_sampling()->set_ignore_eos(true);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
        auto reader = stub->Generate(&ctx, req);
        v1::GenerateResponse resp;
        int tokens = 0;
        bool counted = false;
        while (reader->Read(&resp)) {
          tokens += resp.token_ids_size();
          if (!counted && tokens > 0) {
            counted = true;
            ++o.in_flight;
          }
          if (cancel && tokens >= 2) ctx.TryCancel();
        }
        if (counted) --o.in_flight;
        const grpc::Status s = reader->Finish();
        if (s.ok() && tokens == max_tokens) {
          ++o.completed;
        } else if (s.error_code() == grpc::StatusCode::UNAVAILABLE && tokens == 0) {
          ++o.refused;
        } else if (s.error_code() == grpc::StatusCode::CANCELLED && cancel) {
          ++o.cancelled;
        } else if (s.error_code() == grpc::StatusCode::CANCELLED && after_signal && tokens == 0) {
          // Reached the server in the instant gRPC itself shut down, after every
          // accepted request had finished: the library cancels calls it never
          // handed to the service (see docs/reliability.md).
          ++o.refused;
        } else {
          o.fail("grpc: status " + std::to_string(s.error_code()) + " '" + s.error_message() + "' after " +
                 std::to_string(tokens) + "/" + std::to_string(max_tokens) + " tokens" +
                 (after_signal ? " (sent after the signal)" : ""));
        }
        if (after_signal && !s.ok()) return;  // refused once draining: this client is done
      }
    });
  }
  for (int c = 0; c < kHttpClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(100 + c));
      while (!stop) {
        const bool after_signal = signalled;
        const int max_tokens = 5 + static_cast<int>(rng() % 36);
        const Json body = {
            {"model", "tiny"},          {"prompt", "Hello there " + std::to_string(rng() % 100)},
            {"max_tokens", max_tokens}, {"ignore_eos", true},
            {"stream", true},           {"stream_options", {{"include_usage", true}}}};
        ++o.in_flight;
        const HttpResponse r = http_request(http_port, "POST", "/v1/completions", body.dump());
        --o.in_flight;
        if (r.status == 200) {
          const std::vector<std::string> events = sse_events(r.body);
          const bool done = !events.empty() && events.back() == "[DONE]";
          int usage = -1;
          if (done && events.size() >= 2) {
            const Json last = Json::parse(events[events.size() - 2], nullptr, false);
            if (last.is_object() && last.contains("usage") && last["usage"].is_object())
              usage = last["usage"].value("completion_tokens", -1);
          }
          if (done && usage == max_tokens) {
            ++o.completed;
          } else {
            o.fail("http: stream ended without its " + std::to_string(max_tokens) +
                   " tokens: " + r.body.substr(r.body.size() > 300 ? r.body.size() - 300 : 0));
          }
        } else if (r.status == 503 || (r.status == 0 && after_signal)) {
          ++o.refused;  // draining, or the listener has closed
        } else {
          o.fail("http: status " + std::to_string(r.status) + " " + r.body.substr(0, 300));
        }
        if (after_signal && r.status != 200) return;
      }
    });
  }

  // Let the soak run, then signal while streams are in flight.
  const auto soak_until = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < soak_until || o.in_flight < 6) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (Clock::now() > soak_until + std::chrono::seconds(30)) break;
  }
  const int in_flight_at_signal = o.in_flight;
  const int completed_before = o.completed;
  ASSERT_EQ(kill(serve.pid(), SIGTERM), 0);
  signalled = true;
  const int exit_code = serve.wait_exit(std::chrono::seconds(90));
  stop = true;
  for (auto& t : clients)
    t.join();

  EXPECT_EQ(exit_code, 0);
  for (const std::string& f : o.failures)
    ADD_FAILURE() << f;
  EXPECT_GE(in_flight_at_signal, 6) << "the signal should arrive while streams run";
  EXPECT_GT(o.completed.load(), completed_before) << "streams in flight at the signal should complete";
  EXPECT_GT(o.refused.load(), 0) << "requests after the signal should be refused";
  std::printf(
      "drain under soak: %d completed (%d before the signal), %d cancelled, %d refused, %d in flight "
      "at the signal, exit code %d\n",
      o.completed.load(), completed_before, o.cancelled.load(), o.refused.load(), in_flight_at_signal,
      exit_code);
}

}  // namespace
}  // namespace pagoda::server::testing
