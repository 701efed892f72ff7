#include "engine/multinode/node_message.h"

#include <array>
#include <cstring>

namespace pagoda::multinode {
namespace {

constexpr std::uint32_t kMagic = 0x31444750;  // "PGD1" on the wire
constexpr std::size_t kHeaderBytes = 16;

}  // namespace

Status send_message(Socket& socket, MessageType type, std::string_view payload, Clock::time_point deadline) {
  std::array<char, kHeaderBytes> header{};
  const std::uint32_t t = static_cast<std::uint32_t>(type);
  const std::uint64_t n = payload.size();
  std::memcpy(header.data(), &kMagic, 4);
  std::memcpy(header.data() + 4, &t, 4);
  std::memcpy(header.data() + 8, &n, 8);
  PAGODA_RETURN_IF_ERROR(socket.send_all(header.data(), header.size(), deadline));
  return socket.send_all(payload.data(), payload.size(), deadline);
}

StatusOr<NodeMessage> receive_message(Socket& socket, std::size_t max_bytes, Clock::time_point deadline) {
  std::array<char, kHeaderBytes> header{};
  PAGODA_RETURN_IF_ERROR(socket.recv_all(header.data(), header.size(), deadline));
  std::uint32_t magic = 0, type = 0;
  std::uint64_t n = 0;
  std::memcpy(&magic, header.data(), 4);
  std::memcpy(&type, header.data() + 4, 4);
  std::memcpy(&n, header.data() + 8, 8);
  if (magic != kMagic) {
    return unavailable(socket.peer() + " does not speak the Pagoda node protocol (or another version of it)");
  }
  if (type < static_cast<std::uint32_t>(MessageType::kHello) ||
      type > static_cast<std::uint32_t>(MessageType::kStop))
    return unavailable(socket.peer() + " sent an unknown message type " + std::to_string(type));
  if (n > max_bytes) {
    return unavailable(socket.peer() + " sent a message of " + std::to_string(n) + " bytes (limit " +
                       std::to_string(max_bytes) + ")");
  }
  NodeMessage m;
  m.type = static_cast<MessageType>(type);
  m.payload.resize(static_cast<std::size_t>(n));
  PAGODA_RETURN_IF_ERROR(socket.recv_all(m.payload.data(), m.payload.size(), deadline));
  return m;
}

}  // namespace pagoda::multinode
