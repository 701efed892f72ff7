// The gRPC front end against a real server on 127.0.0.1 port 0: streaming and
// unary generation, concurrency matching in-process generation, cancellation,
// deadlines, the utility methods, health and reflection.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <future>
#include <thread>

#include "engine/engine.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pagoda/v1/pagoda.grpc.pb.h"
#include "tests/server/server_test_util.h"

namespace pagoda::server::testing {
namespace {

class GrpcServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = start_server(test_options()).release();
    ASSERT_NE(server_, nullptr);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Pagoda::NewStub(channel_);
  }
  void TearDown() override { EXPECT_TRUE(wait_all_blocks_free(*server_)); }

  static v1::GenerateRequest token_request(std::vector<int> ids, int max_tokens, std::uint64_t seed) {
    v1::GenerateRequest r;
    for (int id : ids)
      r.mutable_token_ids()->add_ids(id);
    auto* s = r.mutable_sampling();
    s->set_max_tokens(max_tokens);
    s->set_temperature(0.8);
    s->set_top_p(0.95);
    s->set_top_k(50);
    s->set_min_p(0.0);
    s->set_repetition_penalty(1.0);
    s->set_seed(seed);
    s->set_ignore_eos(true);
    return r;
  }

  // Tokens of the same request run straight through the engine.
  static std::vector<std::int32_t> in_process(const std::vector<int>& ids, int max_tokens,
                                              std::uint64_t seed) {
    EngineRequest r;
    r.prompt_token_ids.assign(ids.begin(), ids.end());
    r.sampling.max_tokens = max_tokens;
    r.sampling.temperature = 0.8;
    r.sampling.top_p = 0.95;
    r.sampling.top_k = 50;
    r.sampling.min_p = 0.0;
    r.sampling.repetition_penalty = 1.0;
    r.sampling.seed = seed;
    r.sampling.ignore_eos = true;
    auto out = std::make_shared<std::vector<std::int32_t>>();
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    auto id = server_->engine().submit(std::move(r), [out, done](StreamEvent e) {
      out->insert(out->end(), e.token_ids.begin(), e.token_ids.end());
      if (e.finished) done->set_value();
    });
    EXPECT_TRUE(id.ok());
    f.wait();
    return *out;
  }

  static Server* server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Pagoda::Stub> stub_;
};

Server* GrpcServiceTest::server_ = nullptr;

TEST_F(GrpcServiceTest, GenerateStreamsTokensThenFinal) {
  grpc::ClientContext ctx;
  v1::GenerateRequest req = token_request({9707, 11, 1879}, 12, 7);
  req.set_logprobs(2);
  auto reader = stub_->Generate(&ctx, req);
  v1::GenerateResponse resp;
  int tokens = 0, finals = 0;
  std::string text;
  while (reader->Read(&resp)) {
    EXPECT_FALSE(resp.request_id().empty());
    tokens += resp.token_ids_size();
    EXPECT_EQ(resp.logprobs_size(), resp.token_ids_size());
    for (const auto& lp : resp.logprobs())
      EXPECT_EQ(lp.top_size(), 2);
    text += resp.text();
    if (resp.has_final()) {
      ++finals;
      EXPECT_EQ(resp.final().finish_reason(), v1::FINISH_REASON_LENGTH);
      EXPECT_EQ(resp.final().usage().completion_tokens(), 12);
      EXPECT_EQ(resp.final().usage().prompt_tokens(), 3);
    }
  }
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(tokens, 12);
  EXPECT_EQ(finals, 1);
  EXPECT_FALSE(text.empty());
}

TEST_F(GrpcServiceTest, GenerateOnceWithTextAndChat) {
  v1::GenerateRequest req;
  req.set_text("The capital of France is");
  req.mutable_sampling()->set_max_tokens(5);
  req.mutable_sampling()->set_temperature(0);
  req.set_n(2);
  v1::GenerateOnceResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->GenerateOnce(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.choices_size(), 2);
  EXPECT_GT(resp.usage().prompt_tokens(), 0);
  for (const auto& c : resp.choices()) {
    EXPECT_GE(c.token_ids_size(), 1);
    EXPECT_LE(c.token_ids_size(), 5);
  }
  // Greedy: both choices are the same.
  EXPECT_EQ(resp.choices(0).text(), resp.choices(1).text());

  v1::GenerateRequest chat;
  auto* m = chat.mutable_chat()->add_messages();
  m->set_role("user");
  m->set_content("Hello!");
  chat.mutable_chat()->set_enable_thinking(false);
  chat.mutable_sampling()->set_max_tokens(4);
  v1::GenerateOnceResponse chat_resp;
  grpc::ClientContext ctx2;
  s = stub_->GenerateOnce(&ctx2, chat, &chat_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(chat_resp.usage().prompt_tokens(), 5);
}

TEST_F(GrpcServiceTest, ConcurrentStreamsEqualInProcessGeneration) {
  constexpr int kStreams = 6;
  std::vector<std::vector<int>> prompts;
  for (int i = 0; i < kStreams; ++i)
    prompts.push_back({100 + i, 200 + i * 3, 300, 400 + i});
  std::vector<std::vector<std::int32_t>> got(kStreams);
  std::vector<grpc::Status> statuses(kStreams);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      auto reader = stub_->Generate(&ctx, token_request(prompts[i], 20, 1000 + i));
      v1::GenerateResponse resp;
      while (reader->Read(&resp))
        got[i].insert(got[i].end(), resp.token_ids().begin(), resp.token_ids().end());
      statuses[i] = reader->Finish();
    });
  }
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(got[i], in_process(prompts[i], 20, 1000 + i)) << "stream " << i;
  }
}

TEST_F(GrpcServiceTest, CancellationFreesEveryBlock) {
  grpc::ClientContext ctx;
  auto reader = stub_->Generate(&ctx, token_request({1, 2, 3, 4, 5}, 3000, 3));
  v1::GenerateResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  ctx.TryCancel();
  while (reader->Read(&resp)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(wait_all_blocks_free(*server_, std::chrono::seconds(5)));
}

TEST_F(GrpcServiceTest, DeadlineAbortsTheRequest) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  auto reader = stub_->Generate(&ctx, token_request({5, 6, 7}, 3500, 4));
  v1::GenerateResponse resp;
  while (reader->Read(&resp)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(wait_all_blocks_free(*server_, std::chrono::seconds(5)));
}

TEST_F(GrpcServiceTest, AbortByRequestId) {
  grpc::ClientContext ctx;
  v1::GenerateRequest req = token_request({8, 9, 10}, 3000, 5);
  req.set_request_id("my-request-1");
  auto reader = stub_->Generate(&ctx, req);
  v1::GenerateResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.request_id(), "my-request-1");
  v1::AbortRequest abort;
  abort.set_request_id("my-request-1");
  v1::AbortResponse abort_resp;
  grpc::ClientContext actx;
  ASSERT_TRUE(stub_->Abort(&actx, abort, &abort_resp).ok());
  EXPECT_EQ(abort_resp.num_aborted(), 1);
  while (reader->Read(&resp)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  grpc::ClientContext actx2;
  EXPECT_EQ(stub_->Abort(&actx2, abort, &abort_resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GrpcServiceTest, TokenizeDetokenizeModelInfo) {
  v1::TokenizeRequest t;
  t.set_text("Hello world");
  t.set_return_tokens(true);
  v1::TokenizeResponse tr;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->Tokenize(&c1, t, &tr).ok());
  ASSERT_EQ(tr.ids_size(), 2);
  EXPECT_EQ(tr.ids(0), 9707);
  EXPECT_EQ(tr.tokens(1), "\xC4\xA0world");
  v1::DetokenizeRequest d;
  d.mutable_ids()->CopyFrom(tr.ids());
  v1::DetokenizeResponse dr;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->Detokenize(&c2, d, &dr).ok());
  EXPECT_EQ(dr.text(), "Hello world");
  v1::ModelInfo info;
  grpc::ClientContext c3;
  ASSERT_TRUE(stub_->GetModelInfo(&c3, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.model(), "tiny");
  EXPECT_EQ(info.backend(), "cpu");
  EXPECT_EQ(info.max_model_len(), 4096);
  EXPECT_EQ(info.num_blocks(), 512);
  EXPECT_EQ(info.block_size(), 16);
  EXPECT_EQ(info.vocab_size(), 151936);
}

TEST_F(GrpcServiceTest, InvalidRequestsGetInvalidArgument) {
  auto code_of = [&](const v1::GenerateRequest& r) {
    grpc::ClientContext ctx;
    v1::GenerateOnceResponse resp;
    return stub_->GenerateOnce(&ctx, r, &resp).error_code();
  };
  v1::GenerateRequest none;  // no input
  EXPECT_EQ(code_of(none), grpc::StatusCode::INVALID_ARGUMENT);
  v1::GenerateRequest r = token_request({1, 2}, 5000, 1);  // beyond max_model_len
  EXPECT_EQ(code_of(r), grpc::StatusCode::INVALID_ARGUMENT);
  r = token_request({1, 2}, 4, 1);
  r.mutable_sampling()->set_temperature(-1);
  EXPECT_EQ(code_of(r), grpc::StatusCode::INVALID_ARGUMENT);
  r = token_request({1, 999999999}, 4, 1);
  EXPECT_EQ(code_of(r), grpc::StatusCode::INVALID_ARGUMENT);
  r = token_request({1, 2}, 4, 1);
  r.set_n(1000);
  EXPECT_EQ(code_of(r), grpc::StatusCode::INVALID_ARGUMENT);
  r = token_request({1, 2}, 4, 1);
  r.set_logprobs(21);
  EXPECT_EQ(code_of(r), grpc::StatusCode::INVALID_ARGUMENT);
  r = token_request({1, 2}, 4, 1);
  // proto3 refuses a string field with invalid UTF-8 before the service sees it.
  r.set_text(std::string("\xff\xfe bad utf8"));
  EXPECT_NE(code_of(r), grpc::StatusCode::OK);
  // Still serving.
  EXPECT_EQ(code_of(token_request({1, 2}, 2, 1)), grpc::StatusCode::OK);
}

TEST_F(GrpcServiceTest, HealthAndReflection) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace pagoda::server::testing
