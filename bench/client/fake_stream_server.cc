#include "bench/client/fake_stream_server.h"

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "pagoda/v1/pagoda.grpc.pb.h"

namespace pagoda::bench {
namespace {

namespace v1 = pagoda::v1;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

// Streams max_tokens single-token responses, paced by an alarm.
class FakeGenerate : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  FakeGenerate(const v1::GenerateRequest& request, const FakeStreamTiming& timing)
      : timing_(timing),
        total_(request.sampling().has_max_tokens() ? std::max(1, request.sampling().max_tokens()) : 16),
        prompt_(request.has_token_ids() ? request.token_ids().ids_size() : 1) {
    next(timing_.ttft);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    if (written_ == total_) return Finish(grpc::Status::OK);
    next(timing_.itl);
  }
  void OnDone() override { delete this; }

 private:
  void next(std::chrono::microseconds delay) {
    if (delay.count() <= 0) return write();
    alarm_.Set(std::chrono::system_clock::now() + delay, [this](bool ok) {
      if (ok) write();
    });
  }
  void write() {
    response_.Clear();
    response_.add_token_ids(1000 + written_);
    response_.set_text("x");
    ++written_;
    if (written_ == total_) {
      v1::FinalInfo* f = response_.mutable_final();
      f->set_finish_reason(v1::FINISH_REASON_LENGTH);
      f->mutable_usage()->set_prompt_tokens(prompt_);
      f->mutable_usage()->set_completion_tokens(total_ + timing_.usage_delta);
    }
    StartWrite(&response_);
  }
  FakeStreamTiming timing_;
  int total_;
  int prompt_;
  int written_ = 0;
  grpc::Alarm alarm_;
  v1::GenerateResponse response_;
};

class FakeService : public v1::Pagoda::CallbackService {
 public:
  FakeService(const FakeStreamTiming& timing, std::atomic<std::int64_t>& count)
      : timing_(timing), count_(count) {}
  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(grpc::CallbackServerContext*,
                                                           const v1::GenerateRequest* request) override {
    ++count_;
    return new FakeGenerate(*request, timing_);
  }

 private:
  FakeStreamTiming timing_;
  std::atomic<std::int64_t>& count_;
};

void write_chunk(tcp::socket& socket, const std::string& data, beast::error_code& ec) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  net::write(socket,
             std::vector<net::const_buffer>{net::buffer(size, std::strlen(size)), net::buffer(data),
                                            net::buffer("\r\n", 2)},
             ec);
}

// One HTTP exchange on its own thread: an OpenAI-style SSE stream.
void serve_http(tcp::socket socket, FakeStreamTiming timing) {
  beast::error_code ec;
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  http::read(socket, buffer, req, ec);
  if (ec) return;
  Json body = Json::parse(req.body(), nullptr, false);
  // The stream's length: max_tokens when it is a sensible whole number (a
  // wrong type is a 400 like any other bad body, never an exception on this
  // thread, which would end the process).
  int total = 16;
  bool valid = body.is_object();
  if (valid && body.contains("max_tokens")) {
    const Json& m = body["max_tokens"];
    valid = m.is_number_integer() && m.get<std::int64_t>() >= 0 && m.get<std::int64_t>() <= 1'000'000;
    if (valid) total = m.get<int>();
  }
  if (timing.http_status != 200 || !valid) {
    http::response<http::string_body> res{
        static_cast<http::status>(timing.http_status == 200 ? 400 : timing.http_status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"error":{"message":"fake error","type":"invalid_request_error"}})";
    res.keep_alive(false);
    res.prepare_payload();
    http::write(socket, res, ec);
    return;
  }
  bool chat = req.target() == "/v1/chat/completions";
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: "
      "close\r\n\r\n";
  net::write(socket, net::buffer(head), ec);
  for (int i = 0; i < total && !ec; ++i) {
    std::this_thread::sleep_for(i == 0 ? timing.ttft : timing.itl);
    Json chunk = {{"id", "fake"}, {"object", chat ? "chat.completion.chunk" : "text_completion"}};
    Json choice = {{"index", 0}};
    if (chat) {
      choice["delta"] = {{"content", "x"}};
    } else {
      choice["text"] = "x";
    }
    chunk["choices"] = Json::array({choice});
    write_chunk(socket, "data: " + chunk.dump() + "\n\n", ec);
  }
  Json usage = {{"choices", Json::array()},
                {"usage", {{"prompt_tokens", 1}, {"completion_tokens", total + timing.usage_delta}}}};
  write_chunk(socket, "data: " + usage.dump() + "\n\n", ec);
  write_chunk(socket, "data: [DONE]\n\n", ec);
  write_chunk(socket, "", ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace

struct FakeStreamServer::Impl {
  FakeStreamTiming timing;
  std::atomic<std::int64_t> count{0};
  std::unique_ptr<FakeService> service;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  int http_port = 0;
  net::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread accept_thread;
  // Connection threads are detached; each holds the tracker so it outlives this object.
  struct Tracker {
    std::mutex mu;  // guards active
    std::condition_variable idle;
    int active = 0;
  };
  std::shared_ptr<Tracker> tracker = std::make_shared<Tracker>();
  std::atomic<bool> stopping{false};
};

FakeStreamServer::FakeStreamServer(FakeStreamTiming timing) : impl_(std::make_unique<Impl>()) {
  impl_->timing = timing;
}

FakeStreamServer::~FakeStreamServer() {
  stop();
}

Status FakeStreamServer::start() {
  Impl& s = *impl_;
  s.service = std::make_unique<FakeService>(s.timing, s.count);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &s.grpc_port);
  builder.RegisterService(s.service.get());
  s.grpc_server = builder.BuildAndStart();
  if (!s.grpc_server || s.grpc_port == 0) return internal_error("fake server: cannot bind a gRPC port");
  beast::error_code ec;
  s.acceptor = std::make_unique<tcp::acceptor>(s.io);
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return internal_error("fake server: cannot bind an HTTP port: " + ec.message());
  s.http_port = s.acceptor->local_endpoint().port();
  s.accept_thread = std::thread([&s] {
    while (!s.stopping) {
      beast::error_code aec;
      tcp::socket socket = s.acceptor->accept(aec);
      if (aec || s.stopping) continue;
      ++s.count;
      std::shared_ptr<Impl::Tracker> tracker = s.tracker;
      {
        std::lock_guard lock(tracker->mu);
        ++tracker->active;
      }
      std::thread([tracker, timing = s.timing, sock = std::move(socket)]() mutable {
        serve_http(std::move(sock), timing);
        std::lock_guard lock(tracker->mu);
        if (--tracker->active == 0) tracker->idle.notify_all();
      }).detach();
    }
  });
  return ok_status();
}

void FakeStreamServer::stop() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  if (s.grpc_server) s.grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (s.acceptor) {
    // Wake the blocking accept with a connection of our own, then close.
    beast::error_code ec;
    tcp::socket poke(s.io);
    poke.connect(s.acceptor->local_endpoint(), ec);
    if (s.accept_thread.joinable()) s.accept_thread.join();
    s.acceptor->close(ec);
  }
  std::unique_lock lock(s.tracker->mu);
  s.tracker->idle.wait(lock, [&s] { return s.tracker->active == 0; });
}

int FakeStreamServer::grpc_port() const {
  return impl_->grpc_port;
}
int FakeStreamServer::http_port() const {
  return impl_->http_port;
}
std::int64_t FakeStreamServer::num_requests() const {
  return impl_->count;
}

}  // namespace pagoda::bench
