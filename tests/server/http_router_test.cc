// HttpRouter's last line of defence: an exception out of request handling (a
// bug, e.g. a JSON accessor that throws on an unexpected type) fails that one
// request with a 500 in OpenAI's error shape — or, when a response has
// already gone out, nothing more is sent — and never escapes to the caller
// (the io_context, and so the process).
#include "server/http_router.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

namespace pagoda::server {
namespace {

// An exchange whose request() or respond() throws on its first call.
class ThrowingExchange final : public HttpExchange {
 public:
  enum class Fault { kReadingTheRequest, kAfterResponding };
  explicit ThrowingExchange(Fault fault) : fault_(fault) {
    request_.method(boost::beast::http::verb::get);
    request_.target("/v1/models");
  }

  const HttpRequest& request() const override {
    if (fault_ == Fault::kReadingTheRequest && !thrown_) {
      thrown_ = true;
      throw std::runtime_error("injected fault");
    }
    return request_;
  }
  std::string peer() const override { return "test"; }
  boost::asio::any_io_executor executor() override { return io_.get_executor(); }
  void respond(unsigned status, std::string body, std::string_view) override {
    access_.http_status = static_cast<int>(status);
    responses_.push_back({status, std::move(body)});
    if (fault_ == Fault::kAfterResponding && !thrown_) {
      thrown_ = true;
      throw std::runtime_error("injected fault");
    }
  }
  void start_sse() override {}
  void send_sse(std::string_view) override {}
  void end_sse() override {}
  void on_disconnect(std::function<void()>) override {}
  bool disconnected() const override { return false; }
  AccessRecord& access() override { return access_; }

  struct Response {
    unsigned status;
    std::string body;
  };
  const std::vector<Response>& responses() const { return responses_; }

 private:
  Fault fault_;
  mutable bool thrown_ = false;
  HttpRequest request_;
  boost::asio::io_context io_;
  AccessRecord access_;
  std::vector<Response> responses_;
};

TEST(HttpRouterTest, AnExceptionBeforeAnyResponseIsA500ForThatRequest) {
  ServingContext ctx(ServeOptions(), ApiKeys(), /*metrics=*/nullptr);
  HttpRouter router(&ctx);
  auto ex = std::make_shared<ThrowingExchange>(ThrowingExchange::Fault::kReadingTheRequest);
  ASSERT_NO_THROW(router.handle(ex));
  ASSERT_EQ(ex->responses().size(), 1u);
  EXPECT_EQ(ex->responses()[0].status, 500u);
  const auto body = nlohmann::json::parse(ex->responses()[0].body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << ex->responses()[0].body;
  EXPECT_NE(body["error"]["message"].get<std::string>().find("injected fault"), std::string::npos);
  EXPECT_TRUE(body["error"].contains("type"));
  EXPECT_FALSE(ex->access().error.empty());
}

TEST(HttpRouterTest, AnExceptionAfterTheResponseSendsNothingMore) {
  // Still loading: the router answers 503 itself, and the exchange throws after sending it.
  ServingContext ctx(ServeOptions(), ApiKeys(), /*metrics=*/nullptr);
  HttpRouter router(&ctx);
  auto ex = std::make_shared<ThrowingExchange>(ThrowingExchange::Fault::kAfterResponding);
  ASSERT_NO_THROW(router.handle(ex));
  ASSERT_EQ(ex->responses().size(), 1u);
  EXPECT_EQ(ex->responses()[0].status, 503u);
}

}  // namespace
}  // namespace pagoda::server
