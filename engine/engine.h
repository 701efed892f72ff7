// Engine: the serving loop. Owns the Scheduler and a ModelRunner on a step
// thread (schedule -> run -> update, nothing else), and an output thread that
// turns each step's RequestEvents into StreamEvents — incremental
// detokenization, stop strings, usage and timings — and hands them to the
// request's callback. Front ends call submit/cancel/drain/stats from any
// thread; none of them blocks on a model step.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/model_runner.h"
#include "engine/stream_event.h"
#include "scheduler/scheduler_config.h"

namespace pagoda {

class Tokenizer;
class EngineImpl;

struct EngineConfig {
  // Scheduler policy; num_blocks and block_size are taken from the runner.
  SchedulerConfig scheduler;
  // Longest stop string accepted (bytes) and most stop strings per request.
  std::int32_t max_stop_string_bytes = 256;
  std::int32_t max_stop_strings = 16;
};

// One generation request as a front end submits it. Prompt text is tokenized
// by the caller (outside the engine), so the engine sees token ids only.
struct EngineRequest {
  std::vector<std::int32_t> prompt_token_ids;
  SamplingParams sampling;
  std::int32_t priority = 0;  // lower runs first
  std::string tenant;         // fair-share key
  std::optional<double> ttft_deadline_ms;
  // Text-level options: stop strings are matched on the detokenized output
  // (across token boundaries) and never appear in it.
  bool detokenize = true;
};

// Called on the engine's output thread, in order, ending with exactly one
// event whose `finished` is set. Must not block: hand the event to your own
// queue or reactor. Never called after that final event.
using StreamCallback = std::function<void(StreamEvent event)>;

// A snapshot for metrics and health; any thread.
struct EngineStats {
  std::int32_t num_running = 0;
  std::int32_t num_waiting = 0;
  std::int32_t num_blocks = 0;
  std::int32_t num_free_blocks = 0;  // unreferenced (free or prefix-cached)
  std::int32_t block_size = 0;
  double kv_cache_usage = 0.0;  // fraction of blocks referenced by requests
  std::int64_t num_steps = 0;
  std::int64_t num_model_steps = 0;  // steps that ran the model (not idle)
  double model_seconds = 0.0;  // wall time inside ModelRunner::run (forward pass and sampling), all steps
  std::int64_t num_preemptions = 0;
  std::int64_t prefix_cache_query_tokens = 0;
  std::int64_t prefix_cache_hit_tokens = 0;
  std::int64_t prompt_tokens_total = 0;
  std::int64_t generation_tokens_total = 0;
  std::int64_t num_requests_finished = 0;
  bool draining = false;
};

class Engine {
 public:
  // Starts the step and output threads. The tokenizer is used for
  // detokenization and stop strings; it may be shared with front ends.
  static StatusOr<std::unique_ptr<Engine>> create(std::unique_ptr<ModelRunner> runner,
                                                  std::shared_ptr<const Tokenizer> tokenizer,
                                                  EngineConfig config);
  // Aborts whatever is still running (each gets its final event), then stops the threads.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. Validates the request and queues it; returns its id, or
  //   kInvalidArgument   bad sampling params, empty prompt, ids outside the
  //                      vocabulary, prompt + max_tokens > max_model_len, a
  //                      prompt that can never fit in the KV cache;
  //   kResourceExhausted queue limits (requests or prompt tokens) reached;
  //   kUnavailable       the engine is draining or stopped.
  // On success the callback receives every event of the request.
  StatusOr<RequestId> submit(EngineRequest request, StreamCallback callback);

  // Thread-safe, idempotent. The request ends with finish_reason kAbort
  // within one step; its KV blocks are freed.
  void cancel(RequestId id);

  // Thread-safe. Refuses new requests from now on (kUnavailable), waits up to
  // `timeout` for accepted requests to finish, then aborts the rest. Returns
  // when every request has had its final event.
  void drain(std::chrono::milliseconds timeout);

  EngineStats stats() const;
  const ModelConfig& model_config() const;
  KvCacheInfo kv_cache_info() const;
  std::string backend_name() const;
  // The runner's health (ModelRunner::health), from any thread.
  Status runner_health() const;
  std::int32_t tensor_parallel_size() const;
  std::int32_t max_model_len() const;
  const Tokenizer& tokenizer() const;

 private:
  explicit Engine(std::unique_ptr<EngineImpl> impl);
  std::unique_ptr<EngineImpl> impl_;
};

}  // namespace pagoda
