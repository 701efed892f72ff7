// How fast can `pagoda bench serve` drive a server? Runs the load generator
// against the in-process fake server that streams every token at once, for
// each protocol, and prints the request and chunk rates the client sustained
// (an upper bound on what it can measure) and, at fixed offered rates, how
// closely the sends kept to their schedule.
//
//   build/bench/pagoda_client_overhead_bench [--requests N] [--output-len K] [--concurrency C]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/client/bench_summary.h"
#include "bench/client/fake_stream_server.h"
#include "bench/client/load_runner.h"
#include "bench/client/target_client.h"

using namespace pagoda::bench;

namespace {

std::vector<BenchRequest> make_requests(int n, int output_len) {
  std::vector<BenchRequest> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    BenchRequest& r = out[static_cast<std::size_t>(i)];
    r.index = i;
    r.prompt = "hello";
    r.prompt_ids = {1, 2, 3};
    r.prompt_tokens = 3;
    r.max_tokens = output_len;
  }
  return out;
}

int flag(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  int num_requests = flag(argc, argv, "--requests", 2000);
  int output_len = flag(argc, argv, "--output-len", 32);
  int concurrency = flag(argc, argv, "--concurrency", 64);
  FakeStreamServer server(FakeStreamTiming{});
  pagoda::Status s = server.start();
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  std::vector<BenchRequest> requests = make_requests(num_requests, output_len);
  std::printf("fake server streams instantly; %d requests x %d tokens, max concurrency %d\n", num_requests,
              output_len, concurrency);
  std::printf("%-20s %12s %14s %10s %12s\n", "protocol", "req/s", "chunks/s", "failed", "p50 ITL us");
  for (const char* protocol : {"grpc", "openai-chat", "openai-completions"}) {
    TargetOptions t;
    t.protocol = protocol;
    t.port = std::string(protocol) == "grpc" ? server.grpc_port() : server.http_port();
    t.model = "fake";
    auto client = make_target_client(t);
    if (!client.ok()) {
      std::fprintf(stderr, "%s\n", client.status().message().c_str());
      return 1;
    }
    LoadOptions load;
    load.max_concurrency = concurrency;
    load.num_warmup = 50;
    LoadOutcome out = run_load(**client, requests, load);
    BenchSummary sum = summarize(out.records, out.duration_s, {}, Slo{});
    std::printf("%-20s %12.0f %14.0f %10lld %12.1f\n", protocol, sum.request_throughput,
                static_cast<double>(sum.total_output_tokens) / out.duration_s,
                static_cast<long long>(sum.failed), sum.itl_ms.median * 1000.0);
  }
  // Schedule keeping: offered Poisson rates against what the runner sent.
  std::printf("\nopenai-completions, Poisson arrivals, %d tokens each:\n", output_len);
  std::printf("%12s %14s %10s\n", "offered/s", "achieved/s", "failed");
  TargetOptions t;
  t.protocol = "openai-completions";
  t.port = server.http_port();
  t.model = "fake";
  auto client = make_target_client(t);
  if (!client.ok()) return 1;
  for (double rate : {250.0, 500.0, 1000.0, 2000.0}) {
    LoadOptions load;
    load.request_rate = rate;
    load.seed = 1;
    std::vector<BenchRequest> batch = make_requests(static_cast<int>(rate * 2), output_len);
    LoadOutcome out = run_load(**client, batch, load);
    BenchSummary sum = summarize(out.records, out.duration_s, {}, Slo{});
    std::printf("%12.0f %14.0f %10lld\n", rate, out.achieved_rate, static_cast<long long>(sum.failed));
  }
  server.stop();
  return 0;
}
