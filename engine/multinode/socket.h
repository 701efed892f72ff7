// Socket and TcpListener: blocking TCP streams between the nodes of one
// tensor-parallel group (control messages from the leader, the CPU backend's
// collectives). Deadlines are steady-clock time points; an operation past its
// deadline fails with UNAVAILABLE naming the peer. Each object is used by one
// thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace pagoda::multinode {

using Clock = std::chrono::steady_clock;
// No deadline: wait as long as the peer keeps the connection open.
inline constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

class Socket {
 public:
  Socket() = default;
  // Takes ownership of a connected stream socket.
  Socket(int fd, std::string peer);
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Connects to host:port (a name or an address), retrying refused or
  // unreachable attempts until the deadline: the peer may not listen yet.
  [[nodiscard]] static StatusOr<Socket> connect(const std::string& host, int port,
                                                Clock::time_point deadline);

  Status send_all(const void* data, std::size_t bytes, Clock::time_point deadline = kNoDeadline);
  // Fails (UNAVAILABLE) when the peer closes the connection first.
  Status recv_all(void* data, std::size_t bytes, Clock::time_point deadline = kNoDeadline);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // The peer's numeric address as seen from here ("10.0.0.7"), and the
  // description used in errors ("10.0.0.7:29500").
  std::string peer_address() const;
  const std::string& peer() const { return peer_; }
  void close();

 private:
  int fd_ = -1;
  std::string peer_;
};

class TcpListener {
 public:
  TcpListener() = default;
  ~TcpListener();
  TcpListener(TcpListener&& other) noexcept;
  TcpListener& operator=(TcpListener&& other) noexcept;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Listens on host:port (port 0 = a free port; host "0.0.0.0" = every interface).
  [[nodiscard]] static StatusOr<TcpListener> bind(const std::string& host, int port);
  [[nodiscard]] StatusOr<Socket> accept(Clock::time_point deadline);
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct HostPort {
  std::string host;
  int port = 0;
};
// "host:port", "[v6addr]:port"; the port in [1, 65535].
[[nodiscard]] StatusOr<HostPort> parse_host_port(std::string_view text);
std::string format_host_port(const std::string& host, int port);

// Milliseconds until the deadline for poll(): -1 when there is none, 0 when it has passed.
int poll_timeout_ms(Clock::time_point deadline);

}  // namespace pagoda::multinode
