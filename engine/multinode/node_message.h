// The framed messages of the node protocol: a 16-byte header (magic, type,
// payload length) and the payload. The receiver refuses unknown magic and
// payloads over its limit before reading them. One thread per socket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/multinode/socket.h"

namespace pagoda::multinode {

enum class MessageType : std::uint32_t {
  kHello = 1,     // worker -> leader: node rank and the settings that must match
  kWelcome = 2,   // leader -> worker: the group is complete; every node's address
  kRefused = 3,   // leader -> worker: why this worker cannot join (text)
  kGather = 4,    // worker -> leader: this node's part of an all-gather
  kGathered = 5,  // leader -> worker: every node's part, in node order
  kStep = 6,      // leader -> worker: one encoded StepPlan to run
  kStop = 7,      // leader -> worker: the group is shutting down cleanly
};

struct NodeMessage {
  MessageType type = MessageType::kHello;
  std::string payload;
};

Status send_message(Socket& socket, MessageType type, std::string_view payload,
                    Clock::time_point deadline = kNoDeadline);
// Fails on a foreign header, an unknown type or a payload over max_bytes.
[[nodiscard]] StatusOr<NodeMessage> receive_message(Socket& socket, std::size_t max_bytes,
                                                    Clock::time_point deadline = kNoDeadline);

}  // namespace pagoda::multinode
