#include "tests/scheduler/fake_runner.h"

#include <algorithm>
#include <unordered_set>

namespace pagoda::testing {
namespace {

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::int32_t fake_next_token(std::uint64_t seed, std::int32_t position, std::span<const std::int32_t> history,
                             std::int32_t vocab_size) {
  std::uint64_t h = mix64(seed ^ 0x1234567ULL) ^ mix64(static_cast<std::uint64_t>(position) + 77);
  for (std::int32_t t : history)
    h = mix64(h ^ static_cast<std::uint32_t>(t));
  return static_cast<std::int32_t>(h % static_cast<std::uint64_t>(vocab_size));
}

std::vector<std::int32_t> fake_reference_output(std::uint64_t seed, std::span<const std::int32_t> prompt,
                                                std::int32_t max_tokens, std::int32_t min_tokens,
                                                std::span<const std::int32_t> stop_ids,
                                                std::int32_t vocab_size) {
  std::vector<std::int32_t> history(prompt.begin(), prompt.end());
  std::vector<std::int32_t> out;
  while (static_cast<std::int32_t>(out.size()) < max_tokens) {
    const std::int32_t t = fake_next_token(seed, static_cast<std::int32_t>(out.size()), history, vocab_size);
    out.push_back(t);
    history.push_back(t);
    if (static_cast<std::int32_t>(out.size()) >= min_tokens &&
        std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end()) {
      break;
    }
  }
  return out;
}

FakeRunner::FakeRunner(std::int32_t num_blocks, std::int32_t block_size, std::int32_t vocab_size)
    : block_size_(block_size),
      vocab_size_(vocab_size),
      slots_(static_cast<std::size_t>(num_blocks) * static_cast<std::size_t>(block_size), -1) {}

StatusOr<StepResult> FakeRunner::run(const StepPlan& plan) {
  StepResult result;
  result.step_id = plan.step_id;
  std::int32_t total = 0;
  std::unordered_set<RequestId> seen;
  for (const ScheduledSequence& s : plan.sequences) {
    const std::string who = "request " + std::to_string(s.request_id) + ": ";
    if (verify_ && !seen.insert(s.request_id).second) return internal_error(who + "planned twice");
    const auto num_token_ids = static_cast<std::int32_t>(s.token_ids.size());
    const std::int32_t end = s.start_position + s.num_tokens;
    if (s.num_tokens <= 0 || s.start_position < 0 || end > num_token_ids) {
      return internal_error(who + "bad token range");
    }
    if (static_cast<std::int64_t>(s.block_table.size()) * block_size_ < end) {
      return internal_error(who + "block table does not cover the step's slots");
    }
    if (s.sample != (end == num_token_ids)) return internal_error(who + "sample flag wrong");
    if (s.num_output_tokens != num_token_ids - s.num_prompt_tokens)
      return internal_error(who + "bad output count");
    if (s.sampling == nullptr) return internal_error(who + "no sampling params");
    total += s.num_tokens;
    num_tokens_computed_ += s.num_tokens;
    auto slot = [&](std::int32_t pos) {
      const auto block = s.block_table[static_cast<std::size_t>(pos / block_size_)];
      return static_cast<std::size_t>(block) * static_cast<std::size_t>(block_size_) +
             static_cast<std::size_t>(pos % block_size_);
    };
    if (verify_) {
      for (std::int32_t p = 0; p < s.start_position; ++p) {
        if (slots_[slot(p)] != s.token_ids[static_cast<std::size_t>(p)]) {
          return internal_error(who + "KV at position " + std::to_string(p) + " holds " +
                                std::to_string(slots_[slot(p)]) + ", not token " +
                                std::to_string(s.token_ids[static_cast<std::size_t>(p)]));
        }
      }
      for (std::int32_t p = s.start_position; p < end; ++p)
        slots_[slot(p)] = s.token_ids[static_cast<std::size_t>(p)];
    }
    if (!s.sample) continue;
    SampledToken& t = result.sampled.emplace_back();
    t.request_id = s.request_id;
    if (verify_) {
      history_.clear();
      for (std::int32_t p = 0; p < end; ++p)
        history_.push_back(slots_[slot(p)]);
      t.token_id = fake_next_token(s.seed, s.num_output_tokens, history_, vocab_size_);
    } else {
      t.token_id = fake_next_token(s.seed, s.num_output_tokens, {}, vocab_size_);
    }
    t.logprob = -0.5f;
  }
  if (total != plan.num_batched_tokens) return internal_error("plan num_batched_tokens is wrong");
  return result;
}

}  // namespace pagoda::testing
