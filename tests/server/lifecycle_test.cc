// Server lifecycle and security against real servers: drain under load loses
// no accepted request, API keys on both front ends, TLS and mutual TLS,
// admission limits (429 / RESOURCE_EXHAUSTED) and the metrics listener.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "base/mapped_file.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pagoda/v1/pagoda.grpc.pb.h"
#include "server/serving_context.h"
#include "tests/server/server_test_util.h"

namespace pagoda::server::testing {
namespace {

using Json = nlohmann::json;

v1::GenerateRequest long_request(int max_tokens) {
  v1::GenerateRequest r;
  for (int id : {11, 22, 33, 44})
    r.mutable_token_ids()->add_ids(id);
  r.mutable_sampling()->set_max_tokens(max_tokens);
  r.mutable_sampling()->set_ignore_eos(true);
  r.mutable_sampling()->set_seed(1);
  return r;
}

std::unique_ptr<v1::Pagoda::Stub> stub_for(int port) {
  return v1::Pagoda::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
}

// Listeners come up before the model loads: until it is loaded and warmed up,
// health says so (HTTP 503, gRPC NOT_SERVING, pagoda_ready 0) and API calls
// get 503 / UNAVAILABLE. Checked from inside the start-up announcements, which
// run on the starting thread after the last listener and before loading.
TEST(LifecycleTest, NotReadyWhileTheModelLoads) {
  auto created = Server::create(test_options());
  ASSERT_TRUE(created.ok()) << created.status().message();
  std::unique_ptr<Server> server = std::move(created).value();
  std::map<std::string, int> ports;
  int health_status = 0, completion_status = 0, metrics_status = 0;
  std::string metrics_body;
  grpc::health::v1::HealthCheckResponse::ServingStatus grpc_health =
      grpc::health::v1::HealthCheckResponse::UNKNOWN;
  grpc::StatusCode generate_code = grpc::StatusCode::OK;
  Status started = server->start([&](const std::string& line) {
    std::string kind = line.substr(0, line.find(' '));
    ports[kind] = std::stoi(line.substr(line.rfind(':') + 1));
    if (kind != "metrics") return;  // the last listener: loading starts after this line
    health_status = http_request(ports["http"], "GET", "/health").status;
    completion_status =
        http_request(ports["http"], "POST", "/v1/completions", R"({"prompt": "hi", "max_tokens": 2})").status;
    HttpResponse metrics = http_request(ports["metrics"], "GET", "/metrics");
    metrics_status = metrics.status;
    metrics_body = metrics.body;
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(ports["grpc"]), grpc::InsecureChannelCredentials());
    grpc::health::v1::HealthCheckRequest hreq;
    grpc::health::v1::HealthCheckResponse hresp;
    grpc::ClientContext hctx;
    if (grpc::health::v1::Health::NewStub(channel)->Check(&hctx, hreq, &hresp).ok())
      grpc_health = hresp.status();
    v1::GenerateOnceResponse once;
    grpc::ClientContext gctx;
    generate_code = v1::Pagoda::NewStub(channel)->GenerateOnce(&gctx, long_request(2), &once).error_code();
  });
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_EQ(health_status, 503);
  EXPECT_EQ(completion_status, 503);
  EXPECT_EQ(metrics_status, 200);
  EXPECT_NE(metrics_body.find("pagoda_ready 0"), std::string::npos) << metrics_body.substr(0, 400);
  EXPECT_EQ(grpc_health, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(generate_code, grpc::StatusCode::UNAVAILABLE);

  // Loaded and warmed up: everything answers.
  EXPECT_EQ(http_request(server->http_port(), "GET", "/health").status, 200);
  EXPECT_NE(http_request(server->metrics_port(), "GET", "/metrics").body.find("pagoda_ready 1"),
            std::string::npos);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  grpc::ClientContext hctx;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)->Check(&hctx, hreq, &hresp).ok());
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  server->shutdown(std::chrono::seconds(5));
}

TEST(LifecycleTest, DrainUnderLoadLosesNoAcceptedRequest) {
  auto server = start_server(test_options());
  ASSERT_NE(server, nullptr);
  constexpr int kGrpc = 6, kHttp = 4, kTokens = 60;
  auto stub = stub_for(server->grpc_port());
  std::atomic<int> started{0};
  std::vector<int> grpc_tokens(kGrpc, 0);
  std::vector<grpc::Status> grpc_status(kGrpc);
  std::vector<HttpResponse> http(kHttp);
  std::vector<std::thread> threads;
  for (int i = 0; i < kGrpc; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      auto reader = stub->Generate(&ctx, long_request(kTokens));
      v1::GenerateResponse resp;
      bool first = true;
      while (reader->Read(&resp)) {
        if (first) started++;
        first = false;
        grpc_tokens[i] += resp.token_ids_size();
      }
      grpc_status[i] = reader->Finish();
    });
  }
  for (int i = 0; i < kHttp; ++i) {
    threads.emplace_back([&, i] {
      started++;
      http[i] = http_request(server->http_port(), "POST", "/v1/completions",
                             Json{{"prompt", "Hello"}, {"max_tokens", kTokens}, {"ignore_eos", true}}.dump());
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((started < kGrpc + kHttp ||
          server->engine().stats().num_running + server->engine().stats().num_waiting < kGrpc + kHttp) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::thread drainer([&] { server->shutdown(std::chrono::seconds(30)); });
  // While draining: new requests are refused, health says so.
  while (server->context().phase() != ServingPhase::kDraining &&
         server->context().phase() != ServingPhase::kStopped)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (server->context().phase() == ServingPhase::kDraining) {
    HttpResponse refused =
        http_request(server->http_port(), "POST", "/v1/completions", R"({"prompt":"x","max_tokens":1})");
    if (refused.status != 0) {
      EXPECT_EQ(refused.status, 503);
    }
    grpc::ClientContext ctx;
    v1::GenerateOnceResponse resp;
    grpc::Status s = stub->GenerateOnce(&ctx, long_request(1), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  drainer.join();
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < kGrpc; ++i) {
    EXPECT_TRUE(grpc_status[i].ok()) << grpc_status[i].error_message();
    EXPECT_EQ(grpc_tokens[i], kTokens);
  }
  for (int i = 0; i < kHttp; ++i) {
    ASSERT_EQ(http[i].status, 200) << http[i].body;
    EXPECT_EQ(Json::parse(http[i].body)["usage"]["completion_tokens"], kTokens);
  }
}

TEST(LifecycleTest, ApiKeysOnBothFrontEnds) {
  std::string keys = temp_dir() + "/keys.txt";
  ASSERT_TRUE(write_file(keys, "# test keys\nsk-alice alice\nsk-bob bob\n").ok());
  ServeOptions o = test_options();
  o.api_key_file = keys;
  auto server = start_server(o);
  ASSERT_NE(server, nullptr);
  int port = server->http_port();
  std::string body = R"({"prompt":"Hi","max_tokens":2})";
  EXPECT_EQ(http_request(port, "POST", "/v1/completions", body).status, 401);
  EXPECT_EQ(
      http_request(port, "POST", "/v1/completions", body, {{"Authorization", "Bearer sk-wrong"}}).status,
      401);
  EXPECT_EQ(http_request(port, "POST", "/v1/completions", body, {{"Authorization", "sk-alice"}}).status, 401);
  EXPECT_EQ(http_request(port, "GET", "/v1/models").status, 401);
  EXPECT_EQ(
      http_request(port, "POST", "/v1/completions", body, {{"Authorization", "Bearer sk-alice"}}).status,
      200);
  EXPECT_EQ(http_request(port, "GET", "/health").status, 200);  // health needs no key

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Pagoda::NewStub(channel);
  v1::GenerateOnceResponse resp;
  grpc::ClientContext no_key;
  EXPECT_EQ(stub->GenerateOnce(&no_key, long_request(2), &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext bad_key;
  bad_key.AddMetadata("authorization", "Bearer nope");
  EXPECT_EQ(stub->GenerateOnce(&bad_key, long_request(2), &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext stream_no_key;
  auto reader = stub->Generate(&stream_no_key, long_request(2));
  v1::GenerateResponse r;
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext good;
  good.AddMetadata("authorization", "Bearer sk-bob");
  EXPECT_TRUE(stub->GenerateOnce(&good, long_request(2), &resp).ok());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckResponse hr;
  grpc::ClientContext hctx;
  EXPECT_TRUE(health->Check(&hctx, grpc::health::v1::HealthCheckRequest(), &hr).ok());

  // Tenants show up in the metrics, scraped from the metrics listener.
  HttpResponse metrics = http_request(server->metrics_port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("pagoda_tenant_requests_total{finished_reason=\"length\",tenant=\"alice\"}"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("tenant=\"bob\""), std::string::npos);
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds_bucket",
        "vllm:e2e_request_latency_seconds_bucket", "vllm:inter_token_latency_seconds_bucket",
        "vllm:request_queue_time_seconds", "pagoda_num_requests_running", "pagoda_cache_config_info",
        "vllm:cache_config_info", "pagoda_request_success_total", "vllm:request_prompt_tokens_bucket",
        "pagoda_engine_model_steps_total", "pagoda_engine_model_seconds_total"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
}

bool make_cert(const std::string& dir) {
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir + "/key.pem -out " + dir +
                    "/cert.pem -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
                    ">/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

TEST(LifecycleTest, TlsAndMutualTls) {
  std::string dir = temp_dir();
  ASSERT_TRUE(make_cert(dir));
  std::string cert = *read_file(dir + "/cert.pem");
  std::string key = *read_file(dir + "/key.pem");
  ServeOptions o = test_options();
  o.tls_cert_file = dir + "/cert.pem";
  o.tls_key_file = dir + "/key.pem";
  {
    auto server = start_server(o);
    ASSERT_NE(server, nullptr);
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = cert;
    auto stub = v1::Pagoda::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server->grpc_port()), grpc::SslCredentials(ssl)));
    v1::GenerateOnceResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->GenerateOnce(&ctx, long_request(2), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    // HTTPS with curl verifying the certificate; plain HTTP is refused.
    std::string url = "https://127.0.0.1:" + std::to_string(server->http_port()) + "/health";
    std::string cmd = "curl -s -o /dev/null -w '%{http_code}' --cacert " + dir + "/cert.pem " + url;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[16] = {0};
    ASSERT_NE(p, nullptr);
    EXPECT_NE(fgets(buf, sizeof(buf), p), nullptr);
    pclose(p);
    EXPECT_STREQ(buf, "200");
    EXPECT_NE(status_of(raw_http(server->http_port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                                 std::chrono::seconds(3))),
              200);
  }
  o.tls_client_ca_file = dir + "/cert.pem";  // self-signed: its own CA
  auto server = start_server(o);
  ASSERT_NE(server, nullptr);
  std::string target = "127.0.0.1:" + std::to_string(server->grpc_port());
  grpc::SslCredentialsOptions without;
  without.pem_root_certs = cert;
  auto anonymous = v1::Pagoda::NewStub(grpc::CreateChannel(target, grpc::SslCredentials(without)));
  v1::GenerateOnceResponse resp;
  grpc::ClientContext c1;
  c1.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_FALSE(anonymous->GenerateOnce(&c1, long_request(2), &resp).ok());
  grpc::SslCredentialsOptions with = without;
  with.pem_cert_chain = cert;
  with.pem_private_key = key;
  auto known = v1::Pagoda::NewStub(grpc::CreateChannel(target, grpc::SslCredentials(with)));
  grpc::ClientContext c2;
  grpc::Status s = known->GenerateOnce(&c2, long_request(2), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::string url = "https://127.0.0.1:" + std::to_string(server->http_port()) + "/health";
  auto curl_code = [&](const std::string& extra) {
    std::string cmd =
        "curl -s -o /dev/null -w '%{http_code}' --cacert " + dir + "/cert.pem " + extra + " " + url;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[16] = {0};
    if (p == nullptr) return std::string();
    if (fgets(buf, sizeof(buf), p) == nullptr) buf[0] = 0;
    pclose(p);
    return std::string(buf);
  };
  EXPECT_EQ(curl_code("--cert " + dir + "/cert.pem --key " + dir + "/key.pem"), "200");
  EXPECT_NE(curl_code(""), "200");
}

TEST(LifecycleTest, QueueLimitAnswers429AndResourceExhausted) {
  ServeOptions o = test_options();
  o.max_num_seqs = 1;
  o.max_queued_requests = 1;
  auto server = start_server(o);
  ASSERT_NE(server, nullptr);
  auto stub = stub_for(server->grpc_port());
  // Fill the running slot and the queue with long requests.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>>> readers;
  // One at a time: with a queue of one, a second submit racing the first is refused.
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(stub->Generate(contexts.back().get(), long_request(3000)));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (server->engine().stats().num_running + server->engine().stats().num_waiting < i + 1 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EngineStats st = server->engine().stats();
  std::fprintf(stderr, "running %d waiting %d free %d\n", st.num_running, st.num_waiting, st.num_free_blocks);
  bool saw_limit = false;
  for (int i = 0; i < 3 && !saw_limit; ++i) {
    grpc::ClientContext ctx;
    v1::GenerateOnceResponse resp;
    grpc::Status s = stub->GenerateOnce(&ctx, long_request(2), &resp);
    saw_limit = s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_TRUE(saw_limit);
  HttpResponse r =
      http_request(server->http_port(), "POST", "/v1/completions", R"({"prompt":"Hi","max_tokens":2})");
  EXPECT_EQ(r.status, 429) << r.body;
  for (auto& c : contexts)
    c->TryCancel();
  for (auto& rd : readers) {
    v1::GenerateResponse resp;
    while (rd->Read(&resp)) {
    }
    rd->Finish();
  }
  EXPECT_TRUE(wait_all_blocks_free(*server));
}

}  // namespace
}  // namespace pagoda::server::testing
