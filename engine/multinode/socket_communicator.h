// SocketCommunicator: the Communicator of one CPU rank whose peers may live in
// other processes or on other nodes, over a full mesh of TCP connections (one
// per pair of ranks). Every collective sends this rank's data to every peer
// and receives theirs at the same time, then combines in rank order, so its
// results are bit-identical to CpuCommunicator's. Meant for CPU multi-node
// groups and tests of the multi-node machinery, not for bandwidth. Used by its
// rank's thread only.
#pragma once

#include <memory>
#include <vector>

#include "base/status.h"
#include "engine/communicator.h"
#include "engine/multinode/socket.h"

namespace pagoda::multinode {

class SocketCommunicator final : public Communicator {
 public:
  // peers[r]: the connection to rank r (empty at r == rank).
  SocketCommunicator(int rank, std::vector<Socket> peers);

  int rank() const override { return rank_; }
  int world_size() const override { return static_cast<int>(peers_.size()); }
  void all_reduce_sum(float* data, std::int64_t count) override;
  void all_gather(const float* send, std::int64_t count, float* recv) override;
  void broadcast(void* data, std::int64_t bytes, int root) override;
  void barrier() override;
  // After the first failure (a peer gone) every collective returns at once
  // and leaves its output unspecified; the runner reports this error.
  Status error() const override { return error_; }

 private:
  // Sends `bytes` of `send` to every peer in `to` and receives `bytes` from
  // every peer in `from` into recv_of(rank), all at once (poll).
  template <typename RecvOf>
  void exchange(const void* send, std::size_t bytes, const std::vector<int>& to, const std::vector<int>& from,
                RecvOf recv_of);
  std::vector<int> others() const;

  int rank_;
  std::vector<Socket> peers_;
  std::vector<float> scratch_;  // every peer's data, [world][count]
  Status error_;
};

// One SocketCommunicator per rank in [first_rank, first_rank + num_local) of
// a group of world_size ranks. Each local rank listens on its own port;
// `addresses[r]` ("host:port") is rank r's listener, exchanged beforehand.
// Connections: rank b connects to every a < b, then each rank accepts from
// every higher rank, so no order between processes can deadlock.
class SocketMeshListeners {
 public:
  // Listens for num_local ranks on `host` (port 0: free ports).
  [[nodiscard]] static StatusOr<SocketMeshListeners> open(const std::string& host, int num_local);
  std::vector<int> ports() const;

  [[nodiscard]] StatusOr<std::vector<std::unique_ptr<Communicator>>> connect(
      int first_rank, const std::vector<std::string>& addresses, Clock::time_point deadline);

 private:
  std::vector<TcpListener> listeners_;
};

}  // namespace pagoda::multinode
