#include "engine/multinode/node_group.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/engine/multinode/loopback_group.h"

namespace pagoda::multinode {
namespace {

NodeGroupOptions options(int nnodes, int rank, int port, std::string tp = "4") {
  NodeGroupOptions o = testing::loopback_group_options(nnodes, rank, port, std::chrono::seconds(20));
  o.settings = {{"--tp", std::move(tp)}, {"--block-size", "16"}};
  return o;
}

TEST(NodeGroupTest, WorkersJoinGatherAndFollowTheLeader) {
  const int port = testing::free_port();
  const int nnodes = 3;
  std::vector<std::future<Status>> workers;
  for (int rank = 1; rank < nnodes; ++rank) {
    workers.push_back(std::async(std::launch::async, [=]() -> Status {
      PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<NodeGroup> g, NodeGroup::create(options(nnodes, rank, port)));
      if (g->node_hosts().size() != static_cast<std::size_t>(nnodes) || g->node_hosts()[0] != "127.0.0.1")
        return internal_error("hosts not shared");
      PAGODA_ASSIGN_OR_RETURN(std::vector<std::string> blobs, g->all_gather("from " + std::to_string(rank)));
      if (blobs[0] != "from leader" || blobs[2] != "from 2") return internal_error("bad gather: " + blobs[0]);
      int steps = 0;
      while (true) {
        PAGODA_ASSIGN_OR_RETURN(NodeMessage m, g->receive_from_leader());
        if (m.type == MessageType::kStop) break;
        if (m.type != MessageType::kStep || m.payload != "step " + std::to_string(steps)) {
          return internal_error("unexpected message " + m.payload);
        }
        ++steps;
      }
      return steps == 5 ? ok_status() : internal_error("got " + std::to_string(steps) + " steps");
    }));
  }
  StatusOr<std::unique_ptr<NodeGroup>> leader = NodeGroup::create(options(nnodes, 0, port));
  ASSERT_TRUE(leader.ok()) << leader.status().to_string();
  EXPECT_TRUE((*leader)->is_leader());
  EXPECT_EQ((*leader)->node_hosts()[1], "127.0.0.1");
  StatusOr<std::vector<std::string>> blobs = (*leader)->all_gather("from leader");
  ASSERT_TRUE(blobs.ok()) << blobs.status().to_string();
  EXPECT_EQ((*blobs)[1], "from 1");
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*leader)->send_to_workers(MessageType::kStep, "step " + std::to_string(i)).ok());
  ASSERT_TRUE((*leader)->send_to_workers(MessageType::kStop, "").ok());
  for (auto& w : workers) {
    Status s = w.get();
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
}

// A worker started with another --tp is refused, and both sides say which setting differs.
TEST(NodeGroupTest, MismatchedSettingsFailBothNamingTheSetting) {
  const int port = testing::free_port();
  auto worker =
      std::async(std::launch::async, [=] { return NodeGroup::create(options(2, 1, port, "8")).status(); });
  StatusOr<std::unique_ptr<NodeGroup>> leader = NodeGroup::create(options(2, 0, port, "4"));
  ASSERT_FALSE(leader.ok());
  EXPECT_NE(leader.status().message().find("--tp 8, the leader with 4"), std::string::npos)
      << leader.status().message();
  Status w = worker.get();
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find("refused this node"), std::string::npos) << w.message();
  EXPECT_NE(w.message().find("--tp"), std::string::npos) << w.message();
}

// Something that connects to the leader's port but does not speak the
// protocol (a probe, a scanner) is dropped; the real worker still joins.
TEST(NodeGroupTest, StrayConnectionsAreDropped) {
  const int port = testing::free_port();
  auto stray = std::async(std::launch::async, [=] {
    StatusOr<Socket> s = Socket::connect("127.0.0.1", port, Clock::now() + std::chrono::seconds(20));
    if (s.ok()) (void)s->send_all("GET / HTTP/1.1\r\n\r\n", 18);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  auto worker = std::async(std::launch::async, [port, &stray]() -> Status {
    stray.wait();
    return NodeGroup::create(options(2, 1, port)).status();
  });
  StatusOr<std::unique_ptr<NodeGroup>> leader = NodeGroup::create(options(2, 0, port));
  EXPECT_TRUE(leader.ok()) << leader.status().to_string();
  Status w = worker.get();
  EXPECT_TRUE(w.ok()) << w.to_string();
}

TEST(NodeGroupTest, TimeoutsNameWhatIsMissing) {
  NodeGroupOptions lo = options(3, 0, testing::free_port());
  lo.join_timeout = std::chrono::milliseconds(300);
  StatusOr<std::unique_ptr<NodeGroup>> leader = NodeGroup::create(lo);
  ASSERT_FALSE(leader.ok());
  EXPECT_NE(leader.status().message().find("waited for 2 worker nodes"), std::string::npos)
      << leader.status().message();
  NodeGroupOptions wo = options(2, 1, testing::free_port());
  wo.join_timeout = std::chrono::milliseconds(500);
  StatusOr<std::unique_ptr<NodeGroup>> worker = NodeGroup::create(wo);
  ASSERT_FALSE(worker.ok());
  EXPECT_NE(worker.status().message().find("cannot connect to 127.0.0.1"), std::string::npos)
      << worker.status().message();
}

// The leader's process ends (its sockets close): the worker learns it at once.
TEST(NodeGroupTest, WorkerSeesTheLeaderGo) {
  const int port = testing::free_port();
  auto worker = std::async(std::launch::async, [=]() -> Status {
    PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<NodeGroup> g, NodeGroup::create(options(2, 1, port)));
    return g->receive_from_leader().status();
  });
  {
    StatusOr<std::unique_ptr<NodeGroup>> leader = NodeGroup::create(options(2, 0, port));
    ASSERT_TRUE(leader.ok()) << leader.status().to_string();
  }
  Status w = worker.get();
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find("lost the leader"), std::string::npos) << w.message();
}

}  // namespace
}  // namespace pagoda::multinode
