#include "engine/multinode/node_mesh.h"

#include "engine/multinode/byte_codec.h"
#include "engine/multinode/socket_communicator.h"

namespace pagoda::multinode {

StatusOr<std::vector<std::unique_ptr<Communicator>>> connect_node_mesh(NodeGroup& group, int ranks_per_node,
                                                                       Clock::time_point deadline) {
  PAGODA_ASSIGN_OR_RETURN(SocketMeshListeners listeners,
                          SocketMeshListeners::open("0.0.0.0", ranks_per_node));
  ByteWriter w;
  for (int port : listeners.ports())
    w.i32(port);
  PAGODA_ASSIGN_OR_RETURN(std::vector<std::string> blobs, group.all_gather(w.bytes()));
  std::vector<std::string> addresses;
  for (int node = 0; node < group.nnodes(); ++node) {
    ByteReader r(blobs[static_cast<std::size_t>(node)]);
    for (int i = 0; i < ranks_per_node; ++i) {
      const std::int32_t port = r.i32();
      if (!r.ok() || port < 1 || port > 65535)
        return unavailable("node " + std::to_string(node) + " sent no valid rank ports");
      addresses.push_back(format_host_port(group.node_hosts()[static_cast<std::size_t>(node)], port));
    }
    if (!r.at_end()) return unavailable("node " + std::to_string(node) + " runs a different number of ranks");
  }
  return listeners.connect(group.node_rank() * ranks_per_node, addresses, deadline);
}

}  // namespace pagoda::multinode
