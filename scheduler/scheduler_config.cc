#include "scheduler/scheduler_config.h"

#include <string>

namespace pagoda {

std::string_view deadline_policy_name(DeadlinePolicy policy) {
  switch (policy) {
    case DeadlinePolicy::kIgnore:
      return "ignore";
    case DeadlinePolicy::kReject:
      return "reject";
    case DeadlinePolicy::kShed:
      return "shed";
  }
  return "unknown";
}

Status SchedulerConfig::validate() const {
  auto bad = [](const char* field, const std::string& what) {
    return invalid_argument(std::string("scheduler config: ") + field + " " + what);
  };
  if (block_size < 1 || block_size > 1024) return bad("block_size", "must be in [1, 1024]");
  if (num_blocks < 1) return bad("num_blocks", "must be at least 1");
  if (max_num_batched_tokens < 1) return bad("max_num_batched_tokens", "must be at least 1");
  if (max_num_seqs < 1) return bad("max_num_seqs", "must be at least 1");
  if (max_model_len < 2) return bad("max_model_len", "must be at least 2");
  if (long_prefill_token_threshold < 0) return bad("long_prefill_token_threshold", "must be >= 0");
  if (max_queued_requests < 0) return bad("max_queued_requests", "must be >= 0");
  if (max_queued_prompt_tokens < 0) return bad("max_queued_prompt_tokens", "must be >= 0");
  if (!(admission_watermark >= 0.0 && admission_watermark < 1.0)) {
    return bad("admission_watermark", "must be in [0, 1)");
  }
  if (!(initial_step_time_ms >= 0.0)) return bad("initial_step_time_ms", "must be >= 0");
  if (!(fairness_prompt_weight >= 0.0) || !(fairness_output_weight >= 0.0)) {
    return bad("fairness weights", "must be >= 0");
  }
  return ok_status();
}

}  // namespace pagoda
