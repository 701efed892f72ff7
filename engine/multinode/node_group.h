// NodeGroup: the control plane of one tensor-parallel group spread over
// several nodes (processes). Node 0, the leader, listens on leader_port; every
// other node connects, names its node rank and the settings it runs with, and
// the leader admits the group once every node has joined with settings equal
// to its own (a mismatch fails both, naming the setting). Afterwards the leader
// sends every step's plan to the workers, and a stop message at shutdown.
// Used by one thread at a time: start-up, then the leader's step thread or a
// worker's loop.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/multinode/node_message.h"
#include "engine/multinode/socket.h"

namespace pagoda::multinode {

struct NodeGroupOptions {
  int nnodes = 1;
  int node_rank = 0;
  std::string leader_address;  // how the workers reach node 0
  int leader_port = 29500;
  std::string listen_host = "0.0.0.0";  // where node 0 listens
  std::chrono::milliseconds join_timeout{std::chrono::minutes(10)};
  // Settings that must be equal on every node, as (name, value) in a fixed order.
  std::vector<std::pair<std::string, std::string>> settings;
};

class NodeGroup {
 public:
  // The leader waits for every worker; a worker connects (retrying while the
  // leader starts) and waits to be admitted. Both give up after join_timeout.
  [[nodiscard]] static StatusOr<std::unique_ptr<NodeGroup>> create(const NodeGroupOptions& options);
  ~NodeGroup();

  int node_rank() const { return node_rank_; }
  int nnodes() const { return nnodes_; }
  bool is_leader() const { return node_rank_ == 0; }
  // How the other nodes reach each node, in node order: the leader's is
  // leader_address, a worker's the address the leader saw it connect from.
  const std::vector<std::string>& node_hosts() const { return hosts_; }

  // Every node's blob, in node order. All nodes call it at the same point.
  [[nodiscard]] StatusOr<std::vector<std::string>> all_gather(const std::string& blob);
  // Leader: one message to every worker (a step, or kStop).
  Status send_to_workers(MessageType type, std::string_view payload);
  // Worker: the next message from the leader.
  [[nodiscard]] StatusOr<NodeMessage> receive_from_leader();

  static constexpr std::size_t kMaxControlBytes = 1 << 20;
  static constexpr std::size_t kMaxStepBytes = 1u << 30;

 private:
  NodeGroup(int node_rank, int nnodes) : node_rank_(node_rank), nnodes_(nnodes) {}
  static StatusOr<std::unique_ptr<NodeGroup>> lead(const NodeGroupOptions& options);
  static StatusOr<std::unique_ptr<NodeGroup>> join(const NodeGroupOptions& options);

  int node_rank_;
  int nnodes_;
  std::vector<std::string> hosts_;
  std::vector<Socket> workers_;  // leader: index = node rank (0 unused)
  Socket leader_;                // worker: the connection to node 0
};

}  // namespace pagoda::multinode
