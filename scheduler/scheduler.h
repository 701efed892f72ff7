// Scheduler: the continuous-batching policy. One progress model (vLLM v1): each
// step gives running requests tokens under a token budget — decodes first, then
// chunked prefill, then admission of waiting requests while budget and KV
// blocks allow — and preempts by recompute when a running request cannot get a
// block. Owns the requests, the waiting queue and the KvBlockAllocator.
//
// Threading: NOT thread-safe. The engine's step thread owns it and is the only
// caller; other threads (front ends) reach it through the engine's submit and
// cancel queues, which the step thread drains between steps.
//
// Step protocol:
//   const StepPlan& plan = scheduler.schedule();
//   StatusOr<StepResult> result = runner.run(plan);        (even when plan is empty:
//   events = result.ok() ? scheduler.update(*result)        update() with an empty
//                        : scheduler.fail_step(...);        result flushes events)
// The plan and its spans are valid until update()/fail_step(); the returned
// events until the next update()/fail_step().
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "scheduler/clock.h"
#include "scheduler/kv_block_allocator.h"
#include "scheduler/request.h"
#include "scheduler/request_event.h"
#include "scheduler/scheduler_config.h"
#include "scheduler/step_plan.h"
#include "scheduler/tenant_fair_share.h"
#include "scheduler/waiting_queue.h"

namespace pagoda {

// Counters for metrics; tokens where the name says so.
struct SchedulerStats {
  std::int64_t num_steps = 0;
  std::int64_t num_submitted = 0;
  std::int64_t num_finished = 0;  // any reason
  std::int64_t num_rejected = 0;  // refused by submit (limits, deadline)
  std::int64_t num_shed = 0;      // dropped from the queue for a missed deadline
  std::int64_t num_aborted = 0;
  std::int64_t num_preemptions = 0;
  std::int64_t prefix_cache_query_tokens = 0;  // tokens looked up at admission
  std::int64_t prefix_cache_hit_tokens = 0;    // of which served from the cache
  std::int32_t num_running = 0;
  std::int32_t num_waiting = 0;
  std::int32_t num_free_blocks = 0;
  std::int32_t num_cached_blocks = 0;
};

class Scheduler {
 public:
  static StatusOr<std::unique_ptr<Scheduler>> create(SchedulerConfig config, Clock clock = steady_clock_ms);

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Refuses at once with
  //   kInvalidArgument    empty prompt, bad max_tokens, prompt + max_tokens > max_model_len,
  //                       or more KV blocks than the whole cache;
  //   kAlreadyExists      the id is in use;
  //   kResourceExhausted  max_queued_requests or max_queued_prompt_tokens reached;
  //   kDeadlineExceeded   (deadline policy reject/shed) its TTFT deadline cannot be met.
  Status submit(NewRequest request);

  // Cancels a request; it gets a final kAbort event. Blocks are freed at once
  // between steps, or at update() when it is in the in-flight plan.
  // kNotFound when the id is unknown or already finished (a normal race).
  Status abort(RequestId id);
  // Ends a request for a reason found outside the scheduler (kStop after a stop
  // string matched; kLength, kError). Same timing and final event as abort().
  Status finish(RequestId id, FinishReason reason);

  // Plans the next step. Calling it again without update() abandons the
  // previous plan (its tokens are planned again).
  const StepPlan& schedule();
  // Applies the step's results: advances progress, appends sampled tokens,
  // finishes requests on eos / stop ids / max_tokens / max_model_len, frees
  // their blocks and publishes newly full blocks in the prefix cache. A sampling
  // sequence without its SampledToken (or a result for another step) ends
  // that request with kError.
  const std::vector<RequestEvent>& update(const StepResult& result);
  // The runner failed: every request of the in-flight plan ends with kError.
  const std::vector<RequestEvent>& fail_step();

  bool has_unfinished() const { return !requests_.empty(); }
  std::int32_t num_unfinished() const { return static_cast<std::int32_t>(requests_.size()); }
  std::int32_t num_running() const { return static_cast<std::int32_t>(running_.size()); }
  std::int32_t num_waiting() const { return waiting_.size(); }
  // nullptr when unknown or finished.
  const Request* find(RequestId id) const;

  SchedulerStats stats() const;
  const SchedulerConfig& config() const { return config_; }
  const KvBlockAllocator& allocator() const { return allocator_; }
  const TenantFairShare& fair_share() const { return fair_share_; }
  // Drops every cached prefix not in use (e.g. after a weight reload).
  void reset_prefix_cache() { allocator_.reset_prefix_cache(); }

  // Cross-checks requests, queues and allocator: block ref counts equal the
  // block tables' references, no leaks, states match containers. Runs after
  // every update() in debug builds; tests call it directly.
  Status check_invariants() const;

 private:
  Scheduler(SchedulerConfig config, Clock clock);

  // schedule() helpers.
  std::int32_t blocks_needed(const Request& r, std::int32_t num_new_tokens) const;
  bool reserve_blocks(Request* r, std::int32_t num_new_tokens);  // preempts as needed; false if r was
  void preempt(Request* victim);
  bool try_admit(Request* r);
  void add_to_plan(Request* r, std::int32_t num_tokens);
  void remove_from_plan(Request* r);
  std::int32_t chunk_cap() const;
  double min_ttft_ms(std::int32_t num_tokens) const;
  void shed_missed_deadlines(double now_ms);
  void forget_deadline(Request* r);

  // update() helpers.
  void ensure_block_hashes(Request* r, std::int32_t num_full_blocks);
  void publish_full_blocks(Request* r);
  FinishReason stop_reason(const Request& r, std::int32_t token) const;
  // Any state -> finished: frees blocks, leaves queues, emits the final event
  // (unless `event` already carries it). The Request object is destroyed by
  // collect_finished().
  void end_request(Request* r, FinishReason reason, RequestEvent* event);
  void collect_finished();
  void end_step();

  SchedulerConfig config_;
  Clock clock_;
  KvBlockAllocator allocator_;
  TenantFairShare fair_share_;
  WaitingQueue waiting_;

  std::unordered_map<RequestId, std::unique_ptr<Request>> requests_;
  // Admitted requests, sorted by (priority, arrival, id): the back is the
  // preemption victim (lowest priority, latest arrival).
  std::vector<Request*> running_;
  // (latest start time, id) of queued requests with a TTFT deadline and no output yet.
  std::set<std::pair<double, RequestId>> deadlines_;

  StepPlan plan_;
  std::vector<Request*> plan_requests_;  // parallel to plan_.sequences
  bool in_flight_ = false;
  bool preempted_this_step_ = false;
  std::int32_t budget_ = 0;             // tokens left in the step being planned
  std::vector<Request*> pending_ends_;  // abort/finish of in-flight requests
  std::vector<Request*> finished_;      // ended this call; destroyed by collect_finished()
  std::vector<std::int32_t> scratch_blocks_;
  std::vector<RequestEvent> events_;           // being collected
  std::vector<RequestEvent> returned_events_;  // handed out by the last update()

  std::int32_t watermark_blocks_;  // config_.admission_watermark of the blocks
  double step_time_ms_;            // estimate for deadline feasibility
  std::uint64_t seed_state_;
  SchedulerStats stats_;
};

}  // namespace pagoda
