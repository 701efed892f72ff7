#include "bench/client/metrics_scraper.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace pagoda::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A one-thread HTTP server on 127.0.0.1 port 0 for the scraper tests. The
// handler sees the request's index (0, 1, ...) and returns the whole raw
// response, or nullopt to hold the connection open without answering until
// the client goes away.
class TestHttpServer {
 public:
  using Handler = std::function<std::optional<std::string>(int index)>;

  explicit TestHttpServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "bind/listen failed";
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TestHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }
  int num_requests() const { return num_requests_.load(); }
  std::vector<std::string> request_lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return request_lines_;
  }

  static std::string ok(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }

 private:
  // Waits for `fd` to become readable; false on stop or timeout.
  bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!stop_ && Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (!stop_) {
      if (!wait_readable(fd_, 1h)) continue;
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos && wait_readable(conn, 5s)) {
        ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      if (request.find("\r\n\r\n") == std::string::npos) {
        ::close(conn);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        request_lines_.push_back(request.substr(0, request.find("\r\n")));
      }
      int index = num_requests_.fetch_add(1);
      std::optional<std::string> response = handler_(index);
      if (response) {
        std::size_t sent = 0;
        while (sent < response->size()) {
          ssize_t n = ::send(conn, response->data() + sent, response->size() - sent, MSG_NOSIGNAL);
          if (n <= 0) break;
          sent += static_cast<std::size_t>(n);
        }
        ::shutdown(conn, SHUT_WR);
      } else {
        // Hold the connection until the client closes it (recv returns 0).
        while (wait_readable(conn, 1h)) {
          if (::recv(conn, buf, sizeof(buf), 0) <= 0) break;
        }
      }
      ::close(conn);
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> num_requests_{0};
  mutable std::mutex mu_;
  std::vector<std::string> request_lines_;
  std::thread thread_;
};

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

// A port with nothing listening: bound, then closed.
int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Counters before the run: the `_total` names, except prompt tokens without
// the suffix; two series per counter (one per model) that must be summed.
const char kBefore[] =
    "# HELP vllm:num_preemptions_total Preemptions.\n"
    "# TYPE vllm:num_preemptions_total counter\n"
    "vllm:num_preemptions_total{model_name=\"a\"} 3\n"
    "vllm:num_preemptions_total{model_name=\"b\"} 2\n"
    "vllm:prefix_cache_queries_total{model_name=\"a\"} 1000\n"
    "vllm:prefix_cache_hits_total{model_name=\"a\"} 250\n"
    "vllm:prompt_tokens{model_name=\"a\"} 10000\n"
    "vllm:generation_tokens_total{model_name=\"a\"} 2000\n"
    "vllm:num_requests_waiting{model_name=\"a\"} 99\n"
    "this line is garbage\n";

const char kAfter[] =
    "vllm:num_preemptions_total{model_name=\"a\"} 7\n"
    "vllm:num_preemptions_total{model_name=\"b\"} 2\n"
    "vllm:prefix_cache_queries_total{model_name=\"a\"} 1600\n"
    "vllm:prefix_cache_hits_total{model_name=\"a\"} 550\n"
    "vllm:prompt_tokens{model_name=\"a\"} 15000\n"
    "vllm:generation_tokens_total{model_name=\"a\"} 2500 1700000000000\n"
    "vllm:num_requests_waiting{model_name=\"a\"} 99\n";

// Gauges during the run. KV usage is the largest series, queue depths sum;
// the third sample only has the older `gpu_cache_usage_perc` name.
const char* const kSamples[] = {
    "vllm:kv_cache_usage_perc{engine=\"0\"} 0.2\n"
    "vllm:kv_cache_usage_perc{engine=\"1\"} 0.1\n"
    "vllm:gpu_cache_usage_perc{engine=\"0\"} 0.9\n"
    "vllm:num_requests_waiting{engine=\"0\"} 1\n"
    "vllm:num_requests_waiting{engine=\"1\"} 2\n"
    "vllm:num_requests_running{engine=\"0\"} 10\n",
    "vllm:kv_cache_usage_perc 0.5\n"
    "vllm:num_requests_waiting 0\n"
    "vllm:num_requests_running 12\n"
    "bad{ 1\n",
    "vllm:gpu_cache_usage_perc 0.8\n"
    "vllm:num_requests_waiting 6\n"
    "vllm:num_requests_running 8\n",
};

TEST(MetricsScraper, ComputesServerViewFromScrapes) {
  // Requests: 0 before, 1-3 samples, 4 held open (the stop must cut it
  // short), 5 after.
  TestHttpServer server([](int index) -> std::optional<std::string> {
    if (index == 0) return TestHttpServer::ok(kBefore);
    if (index >= 1 && index <= 3) return TestHttpServer::ok(kSamples[index - 1]);
    if (index == 4) return std::nullopt;
    return TestHttpServer::ok(kAfter);
  });
  HttpGetOptions options;
  options.timeout = 20s;  // far longer than the stop may take
  MetricsScraper scraper(server.url(), options);

  ASSERT_TRUE(scraper.scrape_before().ok());
  EXPECT_FALSE(scraper.view().available);
  EXPECT_NE(scraper.view().error.find("after"), std::string::npos) << scraper.view().error;

  scraper.start_sampling(5ms);
  ASSERT_TRUE(wait_for([&] { return server.num_requests() >= 5; }, 10s));
  auto stop_start = Clock::now();
  scraper.stop_sampling();
  EXPECT_LT(Clock::now() - stop_start, 2s) << "stop_sampling waited for the scrape in flight";
  scraper.stop_sampling();  // idempotent

  Status after = scraper.scrape_after();
  ASSERT_TRUE(after.ok()) << after.to_string();
  EXPECT_EQ(server.num_requests(), 6);

  ServerView v = scraper.view();
  EXPECT_TRUE(v.available);
  EXPECT_EQ(v.error, "");
  EXPECT_EQ(v.num_samples, 3);
  EXPECT_EQ(scraper.num_failed_samples(), 0);
  EXPECT_EQ(scraper.num_bad_lines(), 2);
  EXPECT_DOUBLE_EQ(v.kv_cache_usage_mean, (0.2 + 0.5 + 0.8) / 3);
  EXPECT_DOUBLE_EQ(v.kv_cache_usage_max, 0.8);
  EXPECT_DOUBLE_EQ(v.num_waiting_mean, 3);
  EXPECT_DOUBLE_EQ(v.num_waiting_max, 6);
  EXPECT_DOUBLE_EQ(v.num_running_mean, 10);
  EXPECT_DOUBLE_EQ(v.num_running_max, 12);
  EXPECT_DOUBLE_EQ(v.preemptions, 4);
  EXPECT_DOUBLE_EQ(v.prefix_cache_queries, 600);
  EXPECT_DOUBLE_EQ(v.prefix_cache_hits, 300);
  EXPECT_DOUBLE_EQ(v.prefix_cache_hit_rate, 0.5);
  EXPECT_DOUBLE_EQ(v.prompt_tokens, 5000);
  EXPECT_DOUBLE_EQ(v.generation_tokens, 500);

  for (const std::string& line : server.request_lines())
    EXPECT_EQ(line, "GET /metrics HTTP/1.1");
}

TEST(MetricsScraper, CounterResetAndMissingCounters) {
  // A server restart between the scrapes: the counter went down, so its
  // increase is its value after. Queries are absent: the hit rate is -1.
  TestHttpServer server([](int index) -> std::optional<std::string> {
    if (index == 0) return TestHttpServer::ok("vllm:num_preemptions 100\nvllm:generation_tokens_total 50\n");
    return TestHttpServer::ok(
        "vllm:num_preemptions 30\nvllm:generation_tokens_total 80\nvllm:prompt_tokens_total 9\n");
  });
  // A bare host:port means /metrics.
  MetricsScraper scraper("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(scraper.scrape_before().ok());
  ASSERT_TRUE(scraper.scrape_after().ok());
  ServerView v = scraper.view();
  EXPECT_TRUE(v.available);
  EXPECT_EQ(v.num_samples, 0);
  EXPECT_DOUBLE_EQ(v.preemptions, 30);
  EXPECT_DOUBLE_EQ(v.generation_tokens, 30);
  EXPECT_DOUBLE_EQ(v.prompt_tokens, 9);  // absent before: it started at zero
  EXPECT_DOUBLE_EQ(v.prefix_cache_queries, 0);
  EXPECT_DOUBLE_EQ(v.prefix_cache_hit_rate, -1);
  EXPECT_EQ(server.request_lines().at(0), "GET /metrics HTTP/1.1");
}

TEST(MetricsScraper, StopDoesNotWaitOutTheInterval) {
  TestHttpServer server(
      [](int) -> std::optional<std::string> { return TestHttpServer::ok("vllm:num_requests_running 2\n"); });
  MetricsScraper scraper(server.url());
  scraper.start_sampling(30s);
  ASSERT_TRUE(wait_for([&] { return scraper.view().num_samples == 1; }, 10s));
  auto stop_start = Clock::now();
  scraper.stop_sampling();
  EXPECT_LT(Clock::now() - stop_start, 2s) << "stop_sampling slept out the interval";
  EXPECT_EQ(scraper.view().num_samples, 1);
  EXPECT_DOUBLE_EQ(scraper.view().num_running_max, 2);
  // Sampling again after a stop works.
  scraper.start_sampling(1ms);
  ASSERT_TRUE(wait_for([&] { return scraper.view().num_samples >= 3; }, 10s));
  scraper.stop_sampling();
}

TEST(MetricsScraper, ConnectionRefusedIsAClearError) {
  int port = unused_port();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  MetricsScraper scraper(url);
  Status s = scraper.scrape_before();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
  EXPECT_NE(s.message().find(url), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("connect"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("refused"), std::string::npos) << s.message();
  ServerView v = scraper.view();
  EXPECT_FALSE(v.available);
  EXPECT_NE(v.error.find("refused"), std::string::npos) << v.error;

  // Sampling against a dead endpoint counts failures and still stops.
  scraper.start_sampling(1ms);
  ASSERT_TRUE(wait_for([&] { return scraper.num_failed_samples() >= 2; }, 5s));
  scraper.stop_sampling();
  EXPECT_EQ(scraper.view().num_samples, 0);
}

TEST(MetricsScraper, RejectsOtherSchemes) {
  for (const char* url : {"https://127.0.0.1:1/metrics", "HTTPS://host/metrics"}) {
    MetricsScraper scraper(url);
    Status s = scraper.scrape_before();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find("https is not supported"), std::string::npos) << s.message();
  }
  MetricsScraper ftp("ftp://host/metrics");
  Status s = ftp.scrape_before();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'ftp'"), std::string::npos) << s.message();
  MetricsScraper none("127.0.0.1:8000/metrics");
  EXPECT_EQ(none.scrape_before().code(), StatusCode::kInvalidArgument);
}

TEST(HttpUrl, Parses) {
  auto u = parse_http_url("http://localhost:8000", "/metrics");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->target, "/metrics");
  u = parse_http_url("http://[::1]:9/m?x=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9);
  EXPECT_EQ(u->target, "/m?x=1");
  u = parse_http_url("HTTP://example.com");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
  for (const char* bad :
       {"http://:80/", "http://h:99999/", "http://h:0/", "http://h:/", "http://h:8x/", "http://user@h/",
        "http://[::1/", "http://h/a b", "http://h/\r\nX: y", "http:///m"}) {
    EXPECT_EQ(parse_http_url(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(HttpGet, ErrorsAreClassified) {
  TestHttpServer server([](int index) -> std::optional<std::string> {
    if (index == 0) return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    if (index == 1) return TestHttpServer::ok(std::string(5000, 'x'));
    if (index == 2) return std::nullopt;  // never answers
    if (index == 3) return std::string("NOT HTTP AT ALL\r\n\r\n");
    return TestHttpServer::ok("ok 1\n");
  });
  auto url = parse_http_url(server.url());
  ASSERT_TRUE(url.ok());
  HttpGetOptions options;
  options.max_body_bytes = 1000;
  options.timeout = 300ms;

  auto r = http_get(*url, options);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("404"), std::string::npos) << r.status().message();

  r = http_get(*url, options);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().to_string();

  auto start = Clock::now();
  r = http_get(*url, options);
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().to_string();
  EXPECT_LT(Clock::now() - start, 2s);

  r = http_get(*url, options);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().to_string();

  r = http_get(*url, options);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, "ok 1\n");

  HttpCancelToken cancel;
  cancel.cancel();
  EXPECT_EQ(http_get(*url, options, &cancel).status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace pagoda::bench
