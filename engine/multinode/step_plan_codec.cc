#include "engine/multinode/step_plan_codec.h"

#include <algorithm>

#include "engine/multinode/byte_codec.h"

namespace pagoda::multinode {
namespace {

constexpr std::uint32_t kVersion = 1;

struct SequenceHeader {
  RequestId request_id = 0;
  std::int32_t num_prompt_tokens = 0;
  std::int32_t start_position = 0;
  std::int32_t num_tokens = 0;
  bool sample = false;
  std::int32_t num_output_tokens = 0;
  std::size_t table_offset = 0;  // into WireStepPlan::block_tables
  std::size_t table_size = 0;
  std::size_t token_offset = 0;  // of the step's first token in the packed token list
};

}  // namespace

std::string encode_step_plan(const StepPlan& plan) {
  ByteWriter w;
  w.u32(kVersion);
  w.u64(plan.step_id);
  w.i32(plan.num_batched_tokens);
  w.u32(static_cast<std::uint32_t>(plan.sequences.size()));
  for (const ScheduledSequence& s : plan.sequences) {
    w.u64(s.request_id);
    w.i32(s.num_prompt_tokens);
    w.i32(s.start_position);
    w.i32(s.num_tokens);
    w.u8(s.sample ? 1 : 0);
    w.i32(s.num_output_tokens);
    w.i32s(s.block_table);
    w.i32s(s.token_ids.subspan(static_cast<std::size_t>(s.start_position),
                               static_cast<std::size_t>(s.num_tokens)));
  }
  return std::move(w.bytes());
}

StatusOr<WireStepPlan> decode_step_plan(std::string_view bytes, std::int32_t max_positions) {
  ByteReader r(bytes);
  const std::uint32_t version = r.u32();
  if (r.ok() && version != kVersion) {
    return invalid_argument("step plan version " + std::to_string(version) + " (this node speaks " +
                            std::to_string(kVersion) + ")");
  }
  WireStepPlan out;
  out.plan.step_id = r.u64();
  out.plan.num_batched_tokens = r.i32();
  const std::uint32_t num_sequences = r.u32();
  // Each sequence takes at least 33 bytes, which bounds the count by the message size.
  if (!r.ok() || num_sequences > bytes.size() / 33) return invalid_argument("step plan: bad sequence count");
  std::vector<SequenceHeader> headers(num_sequences);
  std::vector<std::int32_t> packed_tokens;
  std::int64_t total_tokens = 0;
  std::int32_t max_start = 0;
  const auto max_count = static_cast<std::uint32_t>(max_positions);
  for (SequenceHeader& h : headers) {
    h.request_id = r.u64();
    h.num_prompt_tokens = r.i32();
    h.start_position = r.i32();
    h.num_tokens = r.i32();
    const std::uint8_t sample = r.u8();
    h.num_output_tokens = r.i32();
    h.table_offset = out.block_tables.size();
    r.i32s(out.block_tables, max_count);
    h.table_size = out.block_tables.size() - h.table_offset;
    h.token_offset = packed_tokens.size();
    r.i32s(packed_tokens, max_count);
    if (!r.ok()) return invalid_argument("step plan: truncated");
    if (sample > 1 || h.num_tokens < 1 || h.start_position < 0 || h.num_prompt_tokens < 0 ||
        h.num_output_tokens < 0 || h.start_position > max_positions - h.num_tokens ||
        packed_tokens.size() - h.token_offset != static_cast<std::size_t>(h.num_tokens)) {
      return invalid_argument("step plan: request " + std::to_string(h.request_id) +
                              " has inconsistent positions or counts");
    }
    h.sample = sample == 1;
    total_tokens += h.num_tokens;
    max_start = std::max(max_start, h.start_position);
  }
  if (!r.at_end()) return invalid_argument("step plan: trailing bytes");
  if (total_tokens != out.plan.num_batched_tokens) {
    return invalid_argument("step plan: num_batched_tokens " + std::to_string(out.plan.num_batched_tokens) +
                            " but the sequences hold " + std::to_string(total_tokens));
  }
  // Sequence i's span starts max_start - start_i before its packed tokens, so
  // its step tokens sit exactly at [start_i, start_i + num_tokens_i).
  out.tokens.assign(static_cast<std::size_t>(max_start), 0);
  out.tokens.insert(out.tokens.end(), packed_tokens.begin(), packed_tokens.end());
  out.sampling = std::make_unique<SamplingParams>();
  out.sampling->temperature = 0.0;
  out.plan.sequences.reserve(headers.size());
  for (const SequenceHeader& h : headers) {
    ScheduledSequence s;
    s.request_id = h.request_id;
    const std::size_t begin = static_cast<std::size_t>(max_start - h.start_position) + h.token_offset;
    s.token_ids = std::span<const std::int32_t>(out.tokens)
                      .subspan(begin, static_cast<std::size_t>(h.start_position + h.num_tokens));
    s.num_prompt_tokens = h.num_prompt_tokens;
    s.start_position = h.start_position;
    s.num_tokens = h.num_tokens;
    s.block_table = std::span<const std::int32_t>(out.block_tables).subspan(h.table_offset, h.table_size);
    s.sample = h.sample;
    s.num_output_tokens = h.num_output_tokens;
    s.sampling = out.sampling.get();
    out.plan.sequences.push_back(s);
  }
  return out;
}

}  // namespace pagoda::multinode
