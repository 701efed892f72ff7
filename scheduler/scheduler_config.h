// SchedulerConfig: the knobs of the continuous-batching scheduler (token budget,
// sequence limit, KV geometry, admission limits, deadline policy, fairness).
// Plain value; validated once by Scheduler::create, then read-only.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pagoda {

// What happens to a request whose time-to-first-token deadline can no longer be
// met (now + its least possible prefill time > deadline). Only requests not yet
// admitted are judged: once a request runs, it is never shed.
enum class DeadlinePolicy : std::uint8_t {
  kIgnore,  // deadlines are recorded but never acted on
  kReject,  // submit() refuses it with kDeadlineExceeded; queued requests are served late
  kShed,    // as kReject, and queued requests that miss are dropped (FinishReason::kDeadline)
};

std::string_view deadline_policy_name(DeadlinePolicy policy);

struct SchedulerConfig {
  // KV geometry (from the runner's KvCacheInfo).
  std::int32_t block_size = 16;  // tokens per block
  std::int32_t num_blocks = 0;   // usable blocks, ids 0..num_blocks-1

  // Per-step limits. 2048 tokens: see docs/performance.md (simulator runs) — it
  // keeps TPOT near the pure-decode step while prefill chunks still fill the
  // compute roof; beyond it TTFT barely improves and TPOT grows linearly.
  std::int32_t max_num_batched_tokens = 2048;
  std::int32_t max_num_seqs = 256;
  std::int32_t max_model_len = 40960;  // prompt + output tokens of one request
  // Cap on one request's prefill chunk per step (0 = only the budget), so a
  // long prompt cannot take the whole budget while other prompts wait behind
  // it. 512 halved TTFT p99 at 70% load in the simulator, at no throughput cost.
  std::int32_t long_prefill_token_threshold = 512;

  bool enable_prefix_caching = true;

  // Admission control: submit() refuses with kResourceExhausted past these.
  std::int32_t max_queued_requests = 4096;
  std::int64_t max_queued_prompt_tokens = 8 * 1024 * 1024;

  // New requests are admitted only while this fraction of the blocks stays
  // free after their allocation (headroom for running decodes). Under KV
  // pressure 5% cut preemptions ~30x in the simulator (docs/performance.md);
  // with a roomy cache it costs nothing. Not applied when nothing runs.
  double admission_watermark = 0.05;

  DeadlinePolicy deadline_policy = DeadlinePolicy::kShed;
  // Step-time estimate used for deadline feasibility until update() has seen
  // measured forward_ms (then an exponential moving average of it).
  double initial_step_time_ms = 0.0;

  // Virtual token counter fairness (VTC): a tenant is charged these weights per
  // prompt token computed and per output token produced.
  double fairness_prompt_weight = 1.0;
  double fairness_output_weight = 2.0;

  // The model's end-of-sequence ids (generation_config.json); they stop a
  // request unless SamplingParams::ignore_eos.
  std::vector<std::int32_t> eos_token_ids;

  // Seeds of requests that did not give one are drawn from this.
  std::uint64_t seed = 0x5eed;

  Status validate() const;
};

}  // namespace pagoda
