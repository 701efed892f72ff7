// connect_node_mesh: the CPU backend's collectives across the nodes of a
// group. Each node opens a listener per local rank, the group exchanges the
// ports (NodeGroup::all_gather; hosts are NodeGroup::node_hosts), and every
// pair of ranks connects once. Called by every node at the same point of
// start-up, on its start-up thread.
#pragma once

#include <memory>
#include <vector>

#include "engine/communicator.h"
#include "engine/multinode/node_group.h"

namespace pagoda::multinode {

// Communicators for ranks [node_rank * ranks_per_node, +ranks_per_node) of a
// group of nnodes * ranks_per_node ranks.
[[nodiscard]] StatusOr<std::vector<std::unique_ptr<Communicator>>> connect_node_mesh(
    NodeGroup& group, int ranks_per_node, Clock::time_point deadline);

}  // namespace pagoda::multinode
