#include "engine/step_plan_validation.h"

#include <cstdint>
#include <string>

namespace pagoda {

Status validate_step_plan(const StepPlan& plan, const ModelConfig& config, const KvCacheInfo& kv) {
  for (const ScheduledSequence& s : plan.sequences) {
    // Made only for an error message: a string per sequence per step is not free.
    const auto who = [&] { return "request " + std::to_string(s.request_id) + ": "; };
    if (s.sampling == nullptr) return internal_error(who() + "no sampling params");
    if (s.num_tokens < 1 || s.start_position < 0 ||
        static_cast<std::size_t>(s.start_position + s.num_tokens) > s.token_ids.size()) {
      return internal_error(who() + "tokens [" + std::to_string(s.start_position) + ", " +
                            std::to_string(s.start_position + s.num_tokens) + ") outside its " +
                            std::to_string(s.token_ids.size()) + " tokens");
    }
    // A sampled sequence's history (its every token, read by penalties on the
    // host and through the staged block table on a device) ends where its
    // computed tokens do.
    if (s.sample && static_cast<std::size_t>(s.start_position + s.num_tokens) != s.token_ids.size()) {
      return internal_error(who() + "sampled, but its tokens [" + std::to_string(s.start_position) + ", " +
                            std::to_string(s.start_position + s.num_tokens) + ") stop short of its " +
                            std::to_string(s.token_ids.size()));
    }
    if (s.start_position + s.num_tokens > config.max_position_embeddings) {
      return invalid_argument(who() + "position " + std::to_string(s.start_position + s.num_tokens) +
                              " exceeds max_position_embeddings " +
                              std::to_string(config.max_position_embeddings));
    }
    const std::int64_t blocks_needed = (s.start_position + s.num_tokens + kv.block_size - 1) / kv.block_size;
    if (static_cast<std::int64_t>(s.block_table.size()) < blocks_needed) {
      return internal_error(who() + "block table has " + std::to_string(s.block_table.size()) +
                            " blocks, needs " + std::to_string(blocks_needed));
    }
    // Whether any id is out of range, in a loop without branches (which
    // vectorizes), then the first such id only when there is one: 256 tables
    // of 2,048 blocks took 171 us checked id by id, 70 so
    // (pagoda_cuda_step_host_bench, docs/performance.md).
    // (Negative ids compare as unsigned values past any block count.)
    const auto out_of_range = [&](std::int32_t b) {
      return static_cast<std::uint32_t>(b) >= static_cast<std::uint32_t>(kv.num_blocks);
    };
    std::uint32_t any_out_of_range = 0;
    for (const std::int32_t b : s.block_table)
      any_out_of_range |= out_of_range(b) ? 1u : 0u;
    if (any_out_of_range != 0) {
      for (const std::int32_t b : s.block_table) {
        if (out_of_range(b)) return internal_error(who() + "block id " + std::to_string(b) + " out of range");
      }
    }
    for (std::int32_t i = 0; i < s.num_tokens; ++i) {
      std::int32_t t = s.token_ids[static_cast<std::size_t>(s.start_position + i)];
      if (t < 0 || t >= config.vocab_size)
        return invalid_argument(who() + "token id " + std::to_string(t) + " is not in the vocabulary");
    }
  }
  return ok_status();
}

}  // namespace pagoda
