#include "engine/multinode/node_group.h"

#include <algorithm>

#include "engine/multinode/byte_codec.h"

namespace pagoda::multinode {
namespace {

// A connection that has not said hello within this long is not a Pagoda node.
constexpr std::chrono::seconds kHelloTimeout(10);

std::string encode_hello(const NodeGroupOptions& o) {
  ByteWriter w;
  w.i32(o.node_rank);
  w.i32(o.nnodes);
  w.u32(static_cast<std::uint32_t>(o.settings.size()));
  for (const auto& [name, value] : o.settings) {
    w.str(name);
    w.str(value);
  }
  return std::move(w.bytes());
}

std::string encode_strings(const std::vector<std::string>& v) {
  ByteWriter w;
  w.u32(static_cast<std::uint32_t>(v.size()));
  for (const std::string& s : v)
    w.str(s);
  return std::move(w.bytes());
}

StatusOr<std::vector<std::string>> decode_strings(std::string_view bytes, std::size_t expected) {
  ByteReader r(bytes);
  const std::uint32_t n = r.u32();
  std::vector<std::string> out;
  if (r.ok() && n == expected) {
    for (std::uint32_t i = 0; i < n; ++i)
      out.push_back(r.str());
  }
  if (!r.ok() || !r.at_end() || out.size() != expected)
    return unavailable("node protocol: malformed list from the leader");
  return out;
}

// Checks a worker's hello against the leader's own options; the error is the
// refusal both sides report.
Status check_hello(const NodeGroupOptions& o, std::string_view payload, const std::vector<Socket>& joined,
                   int& node_rank) {
  ByteReader r(payload);
  node_rank = r.i32();
  const std::int32_t nnodes = r.i32();
  const std::uint32_t num_settings = r.u32();
  std::vector<std::pair<std::string, std::string>> settings;
  for (std::uint32_t i = 0; r.ok() && i < num_settings && i < 1024; ++i) {
    std::string name = r.str();
    std::string value = r.str();
    settings.emplace_back(std::move(name), std::move(value));
  }
  if (!r.ok() || !r.at_end()) return invalid_argument("malformed hello");
  const std::string who = "node " + std::to_string(node_rank);
  if (nnodes != o.nnodes) {
    return invalid_argument(who + " runs with --nnodes " + std::to_string(nnodes) + ", the leader with " +
                            std::to_string(o.nnodes));
  }
  if (node_rank < 1 || node_rank >= o.nnodes) {
    return invalid_argument("--node-rank " + std::to_string(node_rank) + " is not a worker rank in [1, " +
                            std::to_string(o.nnodes) + ")");
  }
  if (joined[static_cast<std::size_t>(node_rank)].valid()) {
    return invalid_argument("two nodes joined with --node-rank " + std::to_string(node_rank));
  }
  for (const auto& mine : o.settings) {
    auto it = std::find_if(settings.begin(), settings.end(),
                           [&](const auto& kv) { return kv.first == mine.first; });
    const std::string theirs = it == settings.end() ? "(unset)" : it->second;
    if (theirs != mine.second) {
      return invalid_argument(who + " runs with " + mine.first + " " + theirs + ", the leader with " +
                              mine.second + " (every node must be started with the same model and settings)");
    }
  }
  if (settings.size() != o.settings.size())
    return invalid_argument(who + " sends settings the leader does not know");
  return ok_status();
}

}  // namespace

NodeGroup::~NodeGroup() = default;

StatusOr<std::unique_ptr<NodeGroup>> NodeGroup::create(const NodeGroupOptions& o) {
  if (o.nnodes < 2 || o.node_rank < 0 || o.node_rank >= o.nnodes)
    return invalid_argument("a node group needs --nnodes >= 2 and --node-rank in [0, --nnodes)");
  return o.node_rank == 0 ? lead(o) : join(o);
}

StatusOr<std::unique_ptr<NodeGroup>> NodeGroup::lead(const NodeGroupOptions& o) {
  const Clock::time_point deadline = Clock::now() + o.join_timeout;
  PAGODA_ASSIGN_OR_RETURN(TcpListener listener, TcpListener::bind(o.listen_host, o.leader_port));
  auto group = std::unique_ptr<NodeGroup>(new NodeGroup(0, o.nnodes));
  group->workers_.resize(static_cast<std::size_t>(o.nnodes));
  group->hosts_.assign(static_cast<std::size_t>(o.nnodes), "");
  group->hosts_[0] = o.leader_address;
  int joined = 0;
  while (joined < o.nnodes - 1) {
    StatusOr<Socket> accepted = listener.accept(deadline);
    if (!accepted.ok()) {
      return unavailable("the leader waited for " + std::to_string(o.nnodes - 1) + " worker nodes on port " +
                         std::to_string(o.leader_port) + " and " + std::to_string(joined) +
                         " joined: " + accepted.status().message());
    }
    Socket s = std::move(accepted).value();
    // Strays (probes, scanners) that do not say hello in time are dropped.
    StatusOr<NodeMessage> hello =
        receive_message(s, kMaxControlBytes, std::min(deadline, Clock::now() + kHelloTimeout));
    if (!hello.ok() || hello->type != MessageType::kHello) continue;
    int rank = -1;
    Status admitted = check_hello(o, hello->payload, group->workers_, rank);
    if (!admitted.ok()) {
      (void)send_message(s, MessageType::kRefused, admitted.message(), Clock::now() + kHelloTimeout);
      return invalid_argument("refused a worker from " + s.peer() + ": " + admitted.message());
    }
    group->hosts_[static_cast<std::size_t>(rank)] = s.peer_address();
    group->workers_[static_cast<std::size_t>(rank)] = std::move(s);
    ++joined;
  }
  const std::string welcome = encode_strings(group->hosts_);
  PAGODA_RETURN_IF_ERROR(group->send_to_workers(MessageType::kWelcome, welcome));
  return group;
}

StatusOr<std::unique_ptr<NodeGroup>> NodeGroup::join(const NodeGroupOptions& o) {
  const Clock::time_point deadline = Clock::now() + o.join_timeout;
  auto group = std::unique_ptr<NodeGroup>(new NodeGroup(o.node_rank, o.nnodes));
  StatusOr<Socket> s = Socket::connect(o.leader_address, o.leader_port, deadline);
  if (!s.ok()) return unavailable("node " + std::to_string(o.node_rank) + ": " + s.status().message());
  group->leader_ = std::move(s).value();
  PAGODA_RETURN_IF_ERROR(send_message(group->leader_, MessageType::kHello, encode_hello(o), deadline));
  PAGODA_ASSIGN_OR_RETURN(NodeMessage reply, receive_message(group->leader_, kMaxControlBytes, deadline));
  if (reply.type == MessageType::kRefused)
    return invalid_argument("the leader refused this node: " + reply.payload);
  if (reply.type != MessageType::kWelcome) return unavailable("node protocol: expected the leader's welcome");
  PAGODA_ASSIGN_OR_RETURN(group->hosts_, decode_strings(reply.payload, static_cast<std::size_t>(o.nnodes)));
  return group;
}

StatusOr<std::vector<std::string>> NodeGroup::all_gather(const std::string& blob) {
  if (!is_leader()) {
    PAGODA_RETURN_IF_ERROR(send_message(leader_, MessageType::kGather, blob));
    PAGODA_ASSIGN_OR_RETURN(NodeMessage m, receive_message(leader_, kMaxControlBytes));
    if (m.type != MessageType::kGathered) return unavailable("node protocol: expected the gathered blobs");
    return decode_strings(m.payload, static_cast<std::size_t>(nnodes_));
  }
  std::vector<std::string> blobs(static_cast<std::size_t>(nnodes_));
  blobs[0] = blob;
  for (int r = 1; r < nnodes_; ++r) {
    PAGODA_ASSIGN_OR_RETURN(NodeMessage m,
                            receive_message(workers_[static_cast<std::size_t>(r)], kMaxControlBytes));
    if (m.type != MessageType::kGather)
      return unavailable("node protocol: node " + std::to_string(r) + " is out of step");
    blobs[static_cast<std::size_t>(r)] = std::move(m.payload);
  }
  PAGODA_RETURN_IF_ERROR(send_to_workers(MessageType::kGathered, encode_strings(blobs)));
  return blobs;
}

Status NodeGroup::send_to_workers(MessageType type, std::string_view payload) {
  for (int r = 1; r < nnodes_; ++r) {
    Socket& s = workers_[static_cast<std::size_t>(r)];
    Status sent = send_message(s, type, payload);
    if (!sent.ok()) return unavailable("node " + std::to_string(r) + " is gone: " + sent.message());
  }
  return ok_status();
}

StatusOr<NodeMessage> NodeGroup::receive_from_leader() {
  StatusOr<NodeMessage> m = receive_message(leader_, kMaxStepBytes);
  if (!m.ok()) return unavailable("lost the leader: " + m.status().message());
  return m;
}

}  // namespace pagoda::multinode
