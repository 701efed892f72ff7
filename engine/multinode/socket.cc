#include "engine/multinode/socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>
#include <utility>

namespace pagoda::multinode {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

void set_stream_options(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

// Waits until fd is ready for `events`; false when the deadline passed first.
StatusOr<bool> wait_ready(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return unavailable("poll: " + errno_text());
  }
}

std::string numeric_host(const sockaddr* addr) {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, host, sizeof host);
  } else if (addr->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, host, sizeof host);
  }
  return host;
}

}  // namespace

StatusOr<HostPort> parse_host_port(std::string_view text) {
  std::string quoted(text);
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return invalid_argument(quoted.append(" is not host:port"));
  HostPort hp;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  hp.host = std::string(host);
  const std::string_view port = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), hp.port);
  if (ec != std::errc() || end != port.data() + port.size() || hp.port < 1 || hp.port > 65535)
    return invalid_argument(quoted.append(" has no valid port"));
  return hp;
}

std::string format_host_port(const std::string& host, int port) {
  std::string out;
  if (host.find(':') != std::string::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  return out.append(":").append(std::to_string(port));
}

int poll_timeout_ms(Clock::time_point deadline) {
  if (deadline == kNoDeadline) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

Socket::Socket(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}

Socket::~Socket() {
  close();
}

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)), peer_(std::move(other.peer_)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    peer_ = std::move(other.peer_);
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

StatusOr<Socket> Socket::connect(const std::string& host, int port, Clock::time_point deadline) {
  const std::string who = host + ":" + std::to_string(port);
  std::string last_error = "no attempt";
  while (true) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (gai != 0) {
      last_error = std::string("cannot resolve the host: ") + gai_strerror(gai);
    } else {
      for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
          last_error = "socket: " + errno_text();
          continue;
        }
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          ::freeaddrinfo(found);
          set_stream_options(fd);
          return Socket(fd, who);
        }
        last_error = errno_text();
        ::close(fd);
      }
      ::freeaddrinfo(found);
    }
    // The peer may still be starting (or its name not yet in DNS): try again.
    if (Clock::now() + std::chrono::milliseconds(200) >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return unavailable("cannot connect to " + who + ": " + last_error);
}

Status Socket::send_all(const void* data, std::size_t bytes, Clock::time_point deadline) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::send(fd_, p, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      PAGODA_ASSIGN_OR_RETURN(bool ready, wait_ready(fd_, POLLOUT, deadline));
      if (!ready) return unavailable("sending to " + peer_ + ": timed out");
      continue;
    }
    return unavailable("sending to " + peer_ + ": " + errno_text());
  }
  return ok_status();
}

Status Socket::recv_all(void* data, std::size_t bytes, Clock::time_point deadline) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::recv(fd_, p, bytes, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return unavailable(peer_ + " closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      PAGODA_ASSIGN_OR_RETURN(bool ready, wait_ready(fd_, POLLIN, deadline));
      if (!ready) return unavailable("receiving from " + peer_ + ": timed out");
      continue;
    }
    return unavailable("receiving from " + peer_ + ": " + errno_text());
  }
  return ok_status();
}

std::string Socket::peer_address() const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  return numeric_host(reinterpret_cast<const sockaddr*>(&addr));
}

TcpListener::~TcpListener() {
  if (fd_ >= 0) ::close(fd_);
}

TcpListener::TcpListener(TcpListener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}

TcpListener& TcpListener::operator=(TcpListener&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

StatusOr<TcpListener> TcpListener::bind(const std::string& host, int port) {
  const std::string who = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (gai != 0) return invalid_argument("cannot resolve " + who + ": " + gai_strerror(gai));
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      ::freeaddrinfo(found);
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      TcpListener l;
      l.fd_ = fd;
      l.port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                  : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      return l;
    }
    last_error = errno_text();
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return unavailable("cannot listen on " + who + ": " + last_error);
}

StatusOr<Socket> TcpListener::accept(Clock::time_point deadline) {
  while (true) {
    PAGODA_ASSIGN_OR_RETURN(bool ready, wait_ready(fd_, POLLIN, deadline));
    if (!ready) return unavailable("no connection on port " + std::to_string(port_) + " before the deadline");
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      return unavailable("accept on port " + std::to_string(port_) + ": " + errno_text());
    }
    set_stream_options(fd);
    return Socket(fd, numeric_host(reinterpret_cast<const sockaddr*>(&addr)));
  }
}

}  // namespace pagoda::multinode
