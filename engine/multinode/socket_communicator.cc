#include "engine/multinode/socket_communicator.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "engine/multinode/byte_codec.h"

namespace pagoda::multinode {
namespace {

constexpr std::uint32_t kMeshMagic = 0x4853454d;  // "MESH"

}  // namespace

SocketCommunicator::SocketCommunicator(int rank, std::vector<Socket> peers)
    : rank_(rank), peers_(std::move(peers)) {}

std::vector<int> SocketCommunicator::others() const {
  std::vector<int> v;
  for (int r = 0; r < world_size(); ++r)
    if (r != rank_) v.push_back(r);
  return v;
}

template <typename RecvOf>
void SocketCommunicator::exchange(const void* send, std::size_t bytes, const std::vector<int>& to,
                                  const std::vector<int>& from, RecvOf recv_of) {
  if (!error_.ok() || bytes == 0) return;
  // Progress per peer: bytes sent to it and received from it so far.
  std::vector<std::size_t> sent(peers_.size(), bytes), received(peers_.size(), bytes);
  for (int r : to)
    sent[static_cast<std::size_t>(r)] = 0;
  for (int r : from)
    received[static_cast<std::size_t>(r)] = 0;
  std::vector<pollfd> fds;
  std::vector<int> fd_rank;
  while (true) {
    fds.clear();
    fd_rank.clear();
    for (int r = 0; r < world_size(); ++r) {
      const auto i = static_cast<std::size_t>(r);
      short events = 0;
      if (sent[i] < bytes) events |= POLLOUT;
      if (received[i] < bytes) events |= POLLIN;
      if (events == 0) continue;
      fds.push_back(pollfd{peers_[i].fd(), events, 0});
      fd_rank.push_back(r);
    }
    if (fds.empty()) return;
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      error_ = unavailable(std::string("collective: poll: ") + std::strerror(errno));
      return;
    }
    for (std::size_t k = 0; k < fds.size(); ++k) {
      const int r = fd_rank[k];
      const auto i = static_cast<std::size_t>(r);
      Socket& peer = peers_[i];
      if ((fds[k].revents & (POLLOUT | POLLERR | POLLHUP)) != 0 && sent[i] < bytes) {
        const ssize_t n = ::send(peer.fd(), static_cast<const char*>(send) + sent[i], bytes - sent[i],
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          sent[i] += static_cast<std::size_t>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          error_ = unavailable("collective: rank " + std::to_string(r) + " (" + peer.peer() +
                               ") is gone: " + std::strerror(errno));
          return;
        }
      }
      if ((fds[k].revents & (POLLIN | POLLERR | POLLHUP)) != 0 && received[i] < bytes) {
        const ssize_t n = ::recv(peer.fd(), static_cast<char*>(recv_of(r)) + received[i], bytes - received[i],
                                 MSG_DONTWAIT);
        if (n > 0) {
          received[i] += static_cast<std::size_t>(n);
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          error_ = unavailable(
              "collective: rank " + std::to_string(r) + " (" + peer.peer() + ") is gone" +
              (n == 0 ? std::string(": connection closed") : ": " + std::string(std::strerror(errno))));
          return;
        }
      }
    }
  }
}

void SocketCommunicator::all_reduce_sum(float* data, std::int64_t count) {
  if (world_size() == 1 || count <= 0) return;
  const auto n = static_cast<std::size_t>(count);
  scratch_.resize(n * peers_.size());
  const std::vector<int> peers = others();
  exchange(data, n * sizeof(float), peers, peers,
           [&](int r) { return static_cast<void*>(scratch_.data() + static_cast<std::size_t>(r) * n); });
  if (!error_.ok()) return;
  std::memcpy(scratch_.data() + static_cast<std::size_t>(rank_) * n, data, n * sizeof(float));
  // The same order as CpuCommunicator: rank 0's value, then + rank 1, + rank 2, ...
  for (std::size_t i = 0; i < n; ++i) {
    float s = scratch_[i];
    for (std::size_t r = 1; r < peers_.size(); ++r)
      s += scratch_[r * n + i];
    data[i] = s;
  }
}

void SocketCommunicator::all_gather(const float* send, std::int64_t count, float* recv) {
  const auto n = static_cast<std::size_t>(count);
  const std::vector<int> peers = others();
  exchange(send, n * sizeof(float), peers, peers,
           [&](int r) { return static_cast<void*>(recv + static_cast<std::size_t>(r) * n); });
  if (n > 0) std::memmove(recv + static_cast<std::size_t>(rank_) * n, send, n * sizeof(float));
}

void SocketCommunicator::broadcast(void* data, std::int64_t bytes, int root) {
  const auto n = static_cast<std::size_t>(bytes);
  if (rank_ == root) {
    exchange(data, n, others(), {}, [](int) -> void* { return nullptr; });
  } else {
    exchange(nullptr, n, {}, {root}, [&](int) { return data; });
  }
}

void SocketCommunicator::barrier() {
  std::vector<char> in(peers_.size());
  const char token = 1;
  const std::vector<int> peers = others();
  exchange(&token, 1, peers, peers,
           [&](int r) { return static_cast<void*>(&in[static_cast<std::size_t>(r)]); });
}

StatusOr<SocketMeshListeners> SocketMeshListeners::open(const std::string& host, int num_local) {
  SocketMeshListeners m;
  for (int i = 0; i < num_local; ++i) {
    PAGODA_ASSIGN_OR_RETURN(TcpListener l, TcpListener::bind(host, 0));
    m.listeners_.push_back(std::move(l));
  }
  return m;
}

std::vector<int> SocketMeshListeners::ports() const {
  std::vector<int> p;
  for (const TcpListener& l : listeners_)
    p.push_back(l.port());
  return p;
}

StatusOr<std::vector<std::unique_ptr<Communicator>>> SocketMeshListeners::connect(
    int first_rank, const std::vector<std::string>& addresses, Clock::time_point deadline) {
  const int world = static_cast<int>(addresses.size());
  const int num_local = static_cast<int>(listeners_.size());
  if (first_rank < 0 || first_rank + num_local > world)
    return invalid_argument("mesh: local ranks out of range");
  std::vector<std::vector<Socket>> peers(static_cast<std::size_t>(num_local));
  for (auto& p : peers)
    p.resize(static_cast<std::size_t>(world));
  // Phase 1: each local rank b connects to every rank a < b and introduces itself.
  for (int j = 0; j < num_local; ++j) {
    const int b = first_rank + j;
    for (int a = 0; a < b; ++a) {
      PAGODA_ASSIGN_OR_RETURN(HostPort peer, parse_host_port(addresses[static_cast<std::size_t>(a)]));
      PAGODA_ASSIGN_OR_RETURN(Socket s, Socket::connect(peer.host, peer.port, deadline));
      ByteWriter w;
      w.u32(kMeshMagic);
      w.i32(b);
      w.i32(a);
      PAGODA_RETURN_IF_ERROR(s.send_all(w.bytes().data(), w.bytes().size(), deadline));
      peers[static_cast<std::size_t>(j)][static_cast<std::size_t>(a)] = std::move(s);
    }
  }
  // Phase 2: each local rank a accepts one connection from every rank b > a.
  for (int j = 0; j < num_local; ++j) {
    const int a = first_rank + j;
    for (int k = a + 1; k < world; ++k) {
      PAGODA_ASSIGN_OR_RETURN(Socket s, listeners_[static_cast<std::size_t>(j)].accept(deadline));
      char hello[12];
      PAGODA_RETURN_IF_ERROR(s.recv_all(hello, sizeof hello, deadline));
      ByteReader r(std::string_view(hello, sizeof hello));
      const std::uint32_t magic = r.u32();
      const std::int32_t from = r.i32();
      const std::int32_t to = r.i32();
      if (magic != kMeshMagic || to != a || from <= a || from >= world ||
          peers[static_cast<std::size_t>(j)][static_cast<std::size_t>(from)].valid()) {
        return unavailable("mesh: rank " + std::to_string(a) + " got an unexpected connection from " +
                           s.peer());
      }
      peers[static_cast<std::size_t>(j)][static_cast<std::size_t>(from)] = std::move(s);
    }
  }
  std::vector<std::unique_ptr<Communicator>> out;
  for (int j = 0; j < num_local; ++j)
    out.push_back(
        std::make_unique<SocketCommunicator>(first_rank + j, std::move(peers[static_cast<std::size_t>(j)])));
  return out;
}

}  // namespace pagoda::multinode
