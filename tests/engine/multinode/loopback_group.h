// Multi-node groups on 127.0.0.1 for tests: a port that was free a moment ago
// (another process may take it: tests only) for a leader that must be told
// its port before it listens, and the group options of one node.
#pragma once

#include <chrono>

#include "engine/multinode/node_group.h"
#include "engine/multinode/socket.h"

namespace pagoda::multinode::testing {

inline int free_port() {
  StatusOr<TcpListener> l = TcpListener::bind("127.0.0.1", 0);
  return l.ok() ? l->port() : 0;
}

inline NodeGroupOptions loopback_group_options(int nnodes, int rank, int port, std::chrono::seconds timeout) {
  NodeGroupOptions o;
  o.nnodes = nnodes;
  o.node_rank = rank;
  o.leader_address = "127.0.0.1";
  o.leader_port = port;
  o.listen_host = "127.0.0.1";
  o.join_timeout = timeout;
  return o;
}

}  // namespace pagoda::multinode::testing
