// Fuzzes what a node reads from another node: the wire form of a StepPlan
// (decode_step_plan) and the framed messages around it (receive_message over a
// socket pair). Any bytes give a clean error or a plan whose every span stays
// inside its storage and whose counts agree.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string_view>

#include "engine/multinode/node_message.h"
#include "engine/multinode/step_plan_codec.h"
#include "tests/fuzz/fuzz_check.h"

using pagoda::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto plan = pagoda::multinode::decode_step_plan(bytes, 4096);
  if (plan.ok()) {
    std::int64_t total = 0;
    for (const pagoda::ScheduledSequence& s : plan->plan.sequences) {
      check(s.num_tokens >= 1 && s.start_position >= 0 && s.start_position + s.num_tokens <= 4096,
            "positions");
      check(s.token_ids.size() == static_cast<std::size_t>(s.start_position + s.num_tokens), "token span");
      check(s.token_ids.data() >= plan->tokens.data() &&
                s.token_ids.data() + s.token_ids.size() <= plan->tokens.data() + plan->tokens.size(),
            "tokens inside storage");
      check(s.block_table.empty() || (s.block_table.data() >= plan->block_tables.data() &&
                                      s.block_table.data() + s.block_table.size() <=
                                          plan->block_tables.data() + plan->block_tables.size()),
            "blocks inside storage");
      check(s.sampling != nullptr, "sampling");
      total += s.num_tokens;
    }
    check(total == plan->plan.num_batched_tokens, "token count");
  }
  // The same bytes as a stream from a peer: a message within the limit, or an error.
  if (size <= 4096) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 0;
    (void)!write(fds[1], data, size);
    close(fds[1]);
    pagoda::multinode::Socket socket(fds[0], "fuzz peer");
    auto m = pagoda::multinode::receive_message(socket, 1024);
    if (m.ok()) check(m->payload.size() <= 1024, "payload limit");
  }
  return 0;
}
