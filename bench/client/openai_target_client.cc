#include "bench/client/openai_target_client.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <limits>
#include <optional>
#include <vector>

#include "base/io_context_pool.h"
#include "bench/client/sse_parser.h"

namespace pagoda::bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kMaxPendingEvent = 16 * 1024 * 1024;

// What every call of one client shares; immutable after construction.
struct Endpoint {
  TargetOptions options;
  std::string path;
  tcp::resolver::results_type addresses;
  ssl::context* tls = nullptr;
};

std::string request_body(const Endpoint& e, const BenchRequest& r) {
  const TargetOptions& o = e.options;
  Json body = {{"model", o.model}, {"max_tokens", r.max_tokens}, {"stream", true}};
  body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  if (o.temperature) body["temperature"] = *o.temperature;
  if (o.protocol == "openai-chat") {
    body["messages"] = Json::array({{{"role", "user"}, {"content", r.prompt}}});
  } else {
    body["prompt"] = r.prompt;
  }
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// One request on its own connection; owned by the shared_ptrs its pending handlers hold.
template <class Stream>
class HttpCall : public std::enable_shared_from_this<HttpCall<Stream>> {
 public:
  HttpCall(net::io_context& io, const Endpoint& endpoint, const BenchRequest& request,
           BenchClock::time_point epoch, TargetClient::Done done)
      : stream_(make_stream(io, endpoint)),
        endpoint_(endpoint),
        timer_(epoch, record_),
        done_(std::move(done)) {
    record_.index = request.index;
    record_.prompt_tokens = request.prompt_tokens;
    req_.method(http::verb::post);
    req_.target(endpoint.path);
    req_.version(11);
    req_.set(http::field::host, endpoint.options.host);
    req_.set(http::field::content_type, "application/json");
    req_.set(http::field::accept, "text/event-stream");
    req_.set(http::field::user_agent, "pagoda-bench");
    if (!endpoint.options.api_key.empty())
      req_.set(http::field::authorization, "Bearer " + endpoint.options.api_key);
    req_.keep_alive(false);
    req_.body() = request_body(endpoint, request);
    req_.prepare_payload();
  }

  void start() {
    timer_.on_sent();
    auto& socket = beast::get_lowest_layer(stream_);
    socket.expires_after(
        std::chrono::milliseconds(static_cast<std::int64_t>(endpoint_.options.request_timeout_s * 1000)));
    socket.async_connect(endpoint_.addresses,
                         [self = this->shared_from_this()](beast::error_code ec, const auto&) {
                           if (ec) return self->fail("connect", ec);
                           self->on_connected();
                         });
  }

 private:
  static Stream make_stream(net::io_context& io, const Endpoint& endpoint) {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      return Stream(io);
    } else {
      return Stream(io, *endpoint.tls);
    }
  }

  void on_connected() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      write();
    } else {
      // SNI, for servers behind name-based TLS routing.
      SSL_set_tlsext_host_name(stream_.native_handle(), endpoint_.options.host.c_str());
      stream_.async_handshake(ssl::stream_base::client,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->fail("tls", ec);
                                self->write();
                              });
    }
  }

  void write() {
    http::async_write(stream_, req_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("io", ec);
      self->parser_.emplace();
      // Streams may be long; Boost 1.74 mishandles boost::none here, so give a number.
      self->parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
      http::async_read_header(self->stream_, self->buffer_, *self->parser_,
                              [self](beast::error_code ec2, std::size_t) {
                                if (ec2) return self->fail("io", ec2);
                                self->status_ = self->parser_->get().result_int();
                                self->read_some();
                              });
    });
  }

  void read_some() {
    if (parser_->is_done()) return finish();
    parser_->get().body().data = chunk_.data();
    parser_->get().body().size = chunk_.size();
    http::async_read_some(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec == http::error::need_buffer) ec = {};
                            std::size_t n = self->chunk_.size() - self->parser_->get().body().size;
                            self->on_body(std::string_view(self->chunk_.data(), n));
                            if (ec && !(ec == http::error::end_of_stream && self->parser_->is_done()))
                              return self->fail("io", ec);
                            if (!self->record_.error_kind.empty()) return self->finish();
                            self->read_some();
                          });
  }

  void on_body(std::string_view bytes) {
    if (status_ != 200) {
      error_body_.append(bytes.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, error_body_.size())));
      return;
    }
    for (const std::string& data : sse_.feed(bytes))
      on_event(data);
    if (sse_.pending_bytes() > kMaxPendingEvent) set_error("protocol", "an SSE event larger than 16 MiB");
  }

  void on_event(const std::string& data) {
    if (data == "[DONE]") {
      done_seen_ = true;
      return;
    }
    Json j = Json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return set_error("protocol", "an SSE event is not a JSON object");
    if (j.contains("error")) return set_error("stream_error", j["error"].dump());
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty() &&
        j["choices"][0].is_object()) {
      const Json& c = j["choices"][0];
      bool output = false;
      auto nonempty = [](const Json& obj, const char* key) {
        return obj.contains(key) && obj[key].is_string() && !obj[key].get_ref<const std::string&>().empty();
      };
      if (nonempty(c, "text")) output = true;
      if (c.contains("delta") && c["delta"].is_object() &&
          (nonempty(c["delta"], "content") || nonempty(c["delta"], "reasoning_content") ||
           nonempty(c["delta"], "reasoning")))
        output = true;
      if (output) timer_.on_output(1);
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const Json& u = j["usage"];
      if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
        record_.usage_prompt_tokens = u["prompt_tokens"].get<std::int32_t>();
      if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
        record_.usage_completion_tokens = u["completion_tokens"].get<std::int32_t>();
    }
  }

  void set_error(const std::string& kind, const std::string& message) {
    if (!record_.error_kind.empty()) return;
    record_.error_kind = kind;
    record_.error_message = message;
  }

  void fail(const char* kind, beast::error_code ec) {
    set_error(ec == beast::error::timeout ? "timeout" : kind, ec.message());
    finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    timer_.on_end();
    if (record_.error_kind.empty() && status_ != 200) {
      std::string message = error_body_;
      Json j = Json::parse(error_body_, nullptr, false);
      if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
          j["error"]["message"].is_string())
        message = j["error"]["message"].get<std::string>();
      set_error("http_" + std::to_string(status_), message);
    }
    if (record_.error_kind.empty() && record_.ttft_s < 0)
      set_error("no_output", "the stream ended without output");
    if (record_.error_kind.empty() && !done_seen_)
      set_error("protocol", "the stream ended without data: [DONE]");
    record_.ok = record_.error_kind.empty();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
    done_(std::move(record_));
  }

  Stream stream_;
  const Endpoint& endpoint_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  std::array<char, 16384> chunk_{};
  SseParser sse_;
  int status_ = 0;
  std::string error_body_;
  bool done_seen_ = false;
  bool finished_ = false;
  RequestRecord record_;
  RequestTimer timer_;
  TargetClient::Done done_;
};

class OpenAiTargetClient : public TargetClient {
 public:
  // One io_context per thread; each request runs on one of them, in turn.
  explicit OpenAiTargetClient(int num_threads) : pool_(num_threads) { pool_.start("pagoda-bench-io"); }
  ~OpenAiTargetClient() override { pool_.stop(); }

  Status init(const TargetOptions& options) {
    endpoint_.options = options;
    endpoint_.path = options.protocol == "openai-chat" ? "/v1/chat/completions" : "/v1/completions";
    beast::error_code ec;
    tcp::resolver resolver(pool_.at(0));
    endpoint_.addresses = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec) return invalid_argument("--target: cannot resolve '" + options.host + "': " + ec.message());
    if (options.tls) {
      tls_.emplace(ssl::context::tls_client);
      if (options.tls_ca_file.empty()) {
        tls_->set_default_verify_paths(ec);
      } else {
        tls_->load_verify_file(options.tls_ca_file, ec);
      }
      if (ec) return invalid_argument("--tls-ca: " + ec.message());
      if (options.tls_insecure) {
        tls_->set_verify_mode(ssl::verify_none);
      } else {
        tls_->set_verify_mode(ssl::verify_peer);
        tls_->set_verify_callback(ssl::host_name_verification(options.host));
      }
      endpoint_.tls = &*tls_;
    }
    return ok_status();
  }

  void send(const BenchRequest& request, BenchClock::time_point epoch, Done done) override {
    net::io_context& io = pool_.next();
    if (endpoint_.tls != nullptr) {
      start(io, std::make_shared<HttpCall<beast::ssl_stream<beast::tcp_stream>>>(io, endpoint_, request,
                                                                                 epoch, std::move(done)));
    } else {
      start(io,
            std::make_shared<HttpCall<beast::tcp_stream>>(io, endpoint_, request, epoch, std::move(done)));
    }
  }

 private:
  template <class Call>
  static void start(net::io_context& io, std::shared_ptr<Call> call) {
    net::post(io, [call] { call->start(); });
  }

  // Calls left in the pool are destroyed with it, before the TLS context.
  std::optional<ssl::context> tls_;
  Endpoint endpoint_;
  IoContextPool pool_;
};

}  // namespace

StatusOr<std::unique_ptr<TargetClient>> make_openai_target_client(const TargetOptions& options) {
  auto client = std::make_unique<OpenAiTargetClient>(std::max(1, options.num_threads));
  PAGODA_RETURN_IF_ERROR(client->init(options));
  return std::unique_ptr<TargetClient>(std::move(client));
}

}  // namespace pagoda::bench
