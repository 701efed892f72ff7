#include "engine/multinode/socket_communicator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>

#include "engine/cpu/cpu_communicator.h"

namespace pagoda::multinode {
namespace {

// A mesh of `world` ranks in this process (one listener each on 127.0.0.1),
// connected from `world` threads as separate processes would.
std::vector<std::unique_ptr<Communicator>> make_mesh(int world) {
  std::vector<SocketMeshListeners> listeners;
  std::vector<std::string> addresses;
  for (int r = 0; r < world; ++r) {
    StatusOr<SocketMeshListeners> l = SocketMeshListeners::open("127.0.0.1", 1);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    addresses.push_back("127.0.0.1:" + std::to_string(l->ports()[0]));
    listeners.push_back(std::move(l).value());
  }
  std::vector<std::unique_ptr<Communicator>> comms(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      auto c = listeners[static_cast<std::size_t>(r)].connect(r, addresses,
                                                              Clock::now() + std::chrono::seconds(20));
      ASSERT_TRUE(c.ok()) << c.status().to_string();
      comms[static_cast<std::size_t>(r)] = std::move((*c)[0]);
    });
  }
  for (auto& t : threads)
    t.join();
  return comms;
}

// Runs fn(rank, communicator) on one thread per rank.
template <typename Fn>
void on_every_rank(std::vector<std::unique_ptr<Communicator>>& comms, Fn fn) {
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < comms.size(); ++r)
    threads.emplace_back([&, r] { fn(static_cast<int>(r), *comms[r]); });
  for (auto& t : threads)
    t.join();
}

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v)
    x = d(rng);
  return v;
}

// The socket mesh and the shared-memory communicator sum in the same order,
// so they agree bit for bit (what makes multi-node CPU runs equal one process).
TEST(SocketCommunicatorTest, AllReduceEqualsSharedMemoryBitForBit) {
  for (int world : {2, 3}) {
    // 1 float, an awkward count, and 6 MB per rank (more than socket buffers hold).
    for (std::size_t n : {std::size_t{1}, std::size_t{1031}, std::size_t{1} << 20}) {
      std::vector<std::vector<float>> inputs;
      for (int r = 0; r < world; ++r)
        inputs.push_back(random_floats(n, static_cast<unsigned>(r * 10 + world)));
      auto sockets = make_mesh(world);
      std::vector<std::vector<float>> via_socket = inputs;
      on_every_rank(sockets, [&](int r, Communicator& c) {
        c.all_reduce_sum(via_socket[static_cast<std::size_t>(r)].data(), static_cast<std::int64_t>(n));
      });
      auto group = std::make_shared<cpu::CpuCommGroup>(world);
      std::vector<std::unique_ptr<Communicator>> shared;
      for (int r = 0; r < world; ++r)
        shared.push_back(std::make_unique<cpu::CpuCommunicator>(group, r));
      std::vector<std::vector<float>> via_memory = inputs;
      on_every_rank(shared, [&](int r, Communicator& c) {
        c.all_reduce_sum(via_memory[static_cast<std::size_t>(r)].data(), static_cast<std::int64_t>(n));
      });
      for (int r = 0; r < world; ++r) {
        ASSERT_EQ(std::memcmp(via_socket[static_cast<std::size_t>(r)].data(), via_memory[0].data(),
                              n * sizeof(float)),
                  0)
            << "world " << world << " n " << n << " rank " << r;
        EXPECT_TRUE(sockets[static_cast<std::size_t>(r)]->error().ok());
      }
    }
  }
}

TEST(SocketCommunicatorTest, AllGatherBroadcastAndBarrier) {
  const int world = 3;
  auto comms = make_mesh(world);
  const std::int64_t n = 257;
  std::vector<std::vector<float>> gathered(world, std::vector<float>(static_cast<std::size_t>(n * world)));
  std::vector<std::vector<char>> bytes(world, std::vector<char>(100001, 0));
  on_every_rank(comms, [&](int r, Communicator& c) {
    std::vector<float> mine(static_cast<std::size_t>(n), static_cast<float>(r) + 0.5f);
    mine[3] = static_cast<float>(r * 100);
    c.all_gather(mine.data(), n, gathered[static_cast<std::size_t>(r)].data());
    if (r == 1) std::memset(bytes[1].data(), 'q', bytes[1].size());
    c.broadcast(bytes[static_cast<std::size_t>(r)].data(), static_cast<std::int64_t>(bytes[1].size()), 1);
    c.barrier();
  });
  for (int r = 0; r < world; ++r) {
    for (int from = 0; from < world; ++from) {
      EXPECT_EQ(gathered[static_cast<std::size_t>(r)][static_cast<std::size_t>(from * n)],
                static_cast<float>(from) + 0.5f);
      EXPECT_EQ(gathered[static_cast<std::size_t>(r)][static_cast<std::size_t>(from * n + 3)],
                static_cast<float>(from * 100));
    }
    EXPECT_EQ(bytes[static_cast<std::size_t>(r)].front(), 'q');
    EXPECT_EQ(bytes[static_cast<std::size_t>(r)].back(), 'q');
    EXPECT_TRUE(comms[static_cast<std::size_t>(r)]->error().ok());
  }
}

// A rank that disappears (its process died: sockets closed) turns into an
// error on the others instead of a hang, and later collectives return at once.
TEST(SocketCommunicatorTest, LostPeerIsAnErrorNotAHang) {
  auto comms = make_mesh(3);
  comms[2].reset();
  std::vector<float> data(4096, 1.0f);
  comms[0]->all_reduce_sum(data.data(), 4096);
  ASSERT_FALSE(comms[0]->error().ok());
  EXPECT_NE(comms[0]->error().message().find("rank 2"), std::string::npos) << comms[0]->error().message();
  comms[0]->barrier();  // sticky: returns at once
  EXPECT_FALSE(comms[0]->error().ok());
}

TEST(SocketMeshTest, RefusesAStrangerOnARankPort) {
  StatusOr<SocketMeshListeners> l = SocketMeshListeners::open("127.0.0.1", 1);
  ASSERT_TRUE(l.ok());
  const int port = l->ports()[0];
  std::thread stranger([port] {
    StatusOr<Socket> s = Socket::connect("127.0.0.1", port, Clock::now() + std::chrono::seconds(5));
    ASSERT_TRUE(s.ok());
    const char junk[12] = "not a rank!";
    (void)s->send_all(junk, sizeof junk);
  });
  auto c = l->connect(0, {"127.0.0.1:" + std::to_string(port), "127.0.0.1:1"},
                      Clock::now() + std::chrono::seconds(5));
  stranger.join();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unexpected connection"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace pagoda::multinode
