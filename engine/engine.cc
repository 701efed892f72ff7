#include "engine/engine.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "base/thread_name.h"
#include "engine/request_output.h"
#include "engine/tokenizer/tokenizer.h"
#include "scheduler/scheduler.h"

namespace pagoda {
namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Messages into the step thread.
struct SubmitMsg {
  NewRequest request;
};
struct CancelMsg {
  RequestId id;
};
struct FinishMsg {  // a stop string matched on the output thread
  RequestId id;
};
using StepInput = std::variant<SubmitMsg, CancelMsg, FinishMsg>;

// One step's events (or a submit refused by the scheduler) for the output thread.
struct OutputBatch {
  std::vector<RequestEvent> events;
  std::vector<std::pair<RequestId, double>> first_scheduled;  // requests scheduled for the first time, when
  std::vector<std::pair<RequestId, Status>> refused;          // submits the scheduler refused
  double time_ms = 0;
};

}  // namespace

class EngineImpl {
 public:
  EngineImpl(std::unique_ptr<ModelRunner> runner, std::shared_ptr<const Tokenizer> tokenizer,
             EngineConfig config, std::unique_ptr<Scheduler> scheduler)
      : runner_(std::move(runner)),
        tokenizer_(std::move(tokenizer)),
        config_(std::move(config)),
        scheduler_(std::move(scheduler)) {
    refresh_stats();
    step_thread_ = std::thread([this] {
      set_current_thread_name("pagoda-step");
      step_loop();
    });
    output_thread_ = std::thread([this] {
      set_current_thread_name("pagoda-output");
      output_loop();
    });
  }

  ~EngineImpl() {
    drain(std::chrono::milliseconds(0));
    {
      std::lock_guard<std::mutex> lock(input_mutex_);
      stopping_ = true;
    }
    input_cv_.notify_all();
    step_thread_.join();
    {
      std::lock_guard<std::mutex> lock(output_mutex_);
      output_stopping_ = true;
    }
    output_cv_.notify_all();
    output_thread_.join();
  }

  StatusOr<RequestId> submit(EngineRequest r, StreamCallback callback) {
    PAGODA_RETURN_IF_ERROR(validate(r));
    const RequestId id = next_id_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(streams_mutex_);
      if (draining_) return unavailable("the server is draining and accepts no new requests");
      const EngineStats s = stats();
      if (s.num_waiting + pending_submits_ >= config_.scheduler.max_queued_requests) {
        return resource_exhausted("too many queued requests (" +
                                  std::to_string(config_.scheduler.max_queued_requests) + "); retry later");
      }
      Stream st;
      st.callback = std::move(callback);
      st.output = std::make_unique<RequestOutput>(
          id, r.detokenize ? tokenizer_.get() : nullptr, r.sampling, runner_->config().eos_token_ids,
          static_cast<std::int32_t>(r.prompt_token_ids.size()), now_ms());
      streams_.emplace(id, std::move(st));
      ++pending_submits_;
    }
    NewRequest nr;
    nr.id = id;
    nr.prompt_token_ids = std::move(r.prompt_token_ids);
    nr.sampling = std::move(r.sampling);
    nr.priority = r.priority;
    nr.tenant = std::move(r.tenant);
    nr.ttft_deadline_ms = r.ttft_deadline_ms;
    push_input(SubmitMsg{std::move(nr)});
    return id;
  }

  void cancel(RequestId id) { push_input(CancelMsg{id}); }

  void drain(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(streams_mutex_);
    draining_ = true;
    stats_draining_.store(true);
    streams_cv_.wait_for(lock, timeout, [&] { return streams_.empty(); });
    std::vector<RequestId> left;
    for (const auto& [id, st] : streams_)
      left.push_back(id);
    lock.unlock();
    for (RequestId id : left)
      cancel(id);
    lock.lock();
    streams_cv_.wait(lock, [&] { return streams_.empty(); });
  }

  EngineStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    EngineStats s = stats_;
    s.draining = stats_draining_.load();
    return s;
  }

  ModelRunner& runner() { return *runner_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  std::int32_t max_model_len() const { return config_.scheduler.max_model_len; }

 private:
  struct Stream {
    StreamCallback callback;
    std::unique_ptr<RequestOutput> output;
  };

  Status validate(const EngineRequest& r) const {
    const ModelConfig& mc = runner_->config();
    if (r.prompt_token_ids.empty()) return invalid_argument("prompt: must contain at least one token");
    for (std::int32_t t : r.prompt_token_ids) {
      if (t < 0 || t >= mc.vocab_size) {
        return invalid_argument("prompt: token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                std::to_string(mc.vocab_size - 1) + ")");
      }
    }
    PAGODA_RETURN_IF_ERROR(r.sampling.validate(mc.vocab_size));
    if (static_cast<std::int32_t>(r.sampling.stop.size()) > config_.max_stop_strings) {
      return invalid_argument("stop: at most " + std::to_string(config_.max_stop_strings) + " stop strings");
    }
    for (const std::string& s : r.sampling.stop) {
      if (static_cast<std::int32_t>(s.size()) > config_.max_stop_string_bytes) {
        return invalid_argument("stop: each stop string must be at most " +
                                std::to_string(config_.max_stop_string_bytes) + " bytes");
      }
    }
    const std::int64_t total = static_cast<std::int64_t>(r.prompt_token_ids.size()) + r.sampling.max_tokens;
    if (total > config_.scheduler.max_model_len) {
      return invalid_argument("prompt (" + std::to_string(r.prompt_token_ids.size()) +
                              " tokens) + max_tokens (" + std::to_string(r.sampling.max_tokens) +
                              ") exceeds the maximum context length of " +
                              std::to_string(config_.scheduler.max_model_len) + " tokens");
    }
    const KvCacheInfo kv = runner_->kv_cache_info();
    const std::int64_t blocks = (total + kv.block_size - 1) / kv.block_size;
    if (blocks > kv.num_blocks) {
      return invalid_argument("prompt + max_tokens needs " + std::to_string(blocks) +
                              " KV blocks but the cache has " + std::to_string(kv.num_blocks));
    }
    return ok_status();
  }

  void push_input(StepInput msg) {
    {
      std::lock_guard<std::mutex> lock(input_mutex_);
      input_.push_back(std::move(msg));
    }
    input_cv_.notify_one();
  }

  void push_output(OutputBatch batch) {
    {
      std::lock_guard<std::mutex> lock(output_mutex_);
      output_.push_back(std::move(batch));
    }
    output_cv_.notify_one();
  }

  // ---- step thread: the only user of scheduler_ and runner_->run ----
  void step_loop() {
    std::vector<StepInput> inputs;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(input_mutex_);
        input_cv_.wait(lock, [&] { return stopping_ || !input_.empty() || scheduler_->has_unfinished(); });
        if (stopping_ && !scheduler_->has_unfinished()) return;
        inputs.assign(std::make_move_iterator(input_.begin()), std::make_move_iterator(input_.end()));
        input_.clear();
      }
      OutputBatch batch;
      for (StepInput& in : inputs)
        apply_input(in, batch);
      inputs.clear();

      const StepPlan& plan = scheduler_->schedule();
      batch.time_ms = now_ms();
      for (const ScheduledSequence& s : plan.sequences) {
        if (scheduled_.insert(s.request_id).second)
          batch.first_scheduled.emplace_back(s.request_id, batch.time_ms);
      }
      const std::vector<RequestEvent>* events = nullptr;
      bool idle = plan.sequences.empty();
      if (idle) {
        StepResult empty;
        empty.step_id = plan.step_id;
        events = &scheduler_->update(empty);
      } else {
        const auto start = std::chrono::steady_clock::now();
        StatusOr<StepResult> result = runner_->run(plan);
        model_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        ++num_model_steps_;
        events = result.ok() ? &scheduler_->update(*result) : &scheduler_->fail_step();
        if (!result.ok()) last_error_ = result.status();
      }
      batch.time_ms = now_ms();
      batch.events = *events;
      for (const RequestEvent& e : batch.events) {
        if (e.finished) scheduled_.erase(e.request_id);
      }
      refresh_stats();
      if (!batch.events.empty() || !batch.refused.empty() || !batch.first_scheduled.empty()) {
        push_output(std::move(batch));
      }
      if (idle && scheduler_->has_unfinished()) {
        // Nothing fits right now (e.g. waiting for blocks): wait for input briefly instead of spinning.
        std::unique_lock<std::mutex> lock(input_mutex_);
        input_cv_.wait_for(lock, std::chrono::milliseconds(2), [&] { return stopping_ || !input_.empty(); });
      }
    }
  }

  void apply_input(StepInput& in, OutputBatch& batch) {
    if (auto* s = std::get_if<SubmitMsg>(&in)) {
      RequestId id = s->request.id;
      Status st = scheduler_->submit(std::move(s->request));
      if (!st.ok()) batch.refused.emplace_back(id, st);
      std::lock_guard<std::mutex> lock(streams_mutex_);
      --pending_submits_;
    } else if (auto* c = std::get_if<CancelMsg>(&in)) {
      (void)scheduler_->abort(c->id);  // kNotFound: already finished, a normal race
    } else if (auto* f = std::get_if<FinishMsg>(&in)) {
      (void)scheduler_->finish(f->id, FinishReason::kStop);
    }
  }

  void refresh_stats() {
    SchedulerStats s = scheduler_->stats();
    KvCacheInfo kv = runner_->kv_cache_info();
    std::lock_guard<std::mutex> lock(stats_mutex_);
    stats_.num_running = s.num_running;
    stats_.num_waiting = s.num_waiting;
    stats_.num_blocks = kv.num_blocks;
    stats_.num_free_blocks = s.num_free_blocks;  // unreferenced: plain free + cached free
    stats_.block_size = kv.block_size;
    stats_.kv_cache_usage =
        kv.num_blocks > 0 ? 1.0 - static_cast<double>(stats_.num_free_blocks) / kv.num_blocks : 0.0;
    stats_.num_steps = s.num_steps;
    stats_.num_model_steps = num_model_steps_;
    stats_.model_seconds = model_seconds_;
    stats_.num_preemptions = s.num_preemptions;
    stats_.prefix_cache_query_tokens = s.prefix_cache_query_tokens;
    stats_.prefix_cache_hit_tokens = s.prefix_cache_hit_tokens;
    stats_.num_requests_finished = s.num_finished;
  }

  // ---- output thread: detokenization, stop strings, callbacks ----
  void output_loop() {
    std::deque<OutputBatch> batches;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(output_mutex_);
        output_cv_.wait(lock, [&] { return output_stopping_ || !output_.empty(); });
        if (output_.empty() && output_stopping_) return;
        batches.swap(output_);
      }
      for (OutputBatch& b : batches)
        deliver(b);
      batches.clear();
    }
  }

  void deliver(OutputBatch& b) {
    for (auto& [id, when] : b.first_scheduled)
      first_scheduled_[id] = when;
    for (const auto& refused : b.refused) {
      // (No structured binding: clang 14 cannot capture one in a lambda.)
      const Status& status = refused.second;
      finish_stream(refused.first, [&](RequestOutput& out) {
        return out.fail(
            status.code() == StatusCode::kDeadlineExceeded ? FinishReason::kDeadline : FinishReason::kError,
            status, b.time_ms);
      });
    }
    for (const RequestEvent& e : b.events) {
      Stream* st = nullptr;
      {
        std::lock_guard<std::mutex> lock(streams_mutex_);
        auto it = streams_.find(e.request_id);
        if (it != streams_.end()) st = &it->second;
      }
      if (st == nullptr) continue;
      auto fs = first_scheduled_.find(e.request_id);
      std::optional<StreamEvent> ev =
          st->output->on_event(e, b.time_ms, fs == first_scheduled_.end() ? -1 : fs->second);
      if (e.has_token || e.finished) {
        // Scheduler events carry the prompt length on the final event only.
        std::lock_guard<std::mutex> lock(stats_mutex_);
        if (e.has_token) ++stats_.generation_tokens_total;
        if (e.finished) stats_.prompt_tokens_total += e.num_prompt_tokens;
      }
      if (ev) {
        if (ev->finished && ev->finish_reason == FinishReason::kError && !last_error_.ok()) {
          ev->error = last_error_;
        }
        const bool final_event = ev->finished;
        st->callback(std::move(*ev));
        if (final_event && st->output->stop_matched() && !e.finished) push_input(FinishMsg{e.request_id});
      }
      if (e.finished) {
        first_scheduled_.erase(e.request_id);
        std::lock_guard<std::mutex> lock(streams_mutex_);
        streams_.erase(e.request_id);
        if (streams_.empty()) streams_cv_.notify_all();
      }
    }
  }

  template <typename MakeFinal>
  void finish_stream(RequestId id, MakeFinal make_final) {
    StreamCallback cb;
    StreamEvent ev;
    {
      std::lock_guard<std::mutex> lock(streams_mutex_);
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      ev = make_final(*it->second.output);
      cb = std::move(it->second.callback);
      streams_.erase(it);
      if (streams_.empty()) streams_cv_.notify_all();
    }
    first_scheduled_.erase(id);
    cb(std::move(ev));
  }

  std::unique_ptr<ModelRunner> runner_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  EngineConfig config_;
  std::unique_ptr<Scheduler> scheduler_;     // step thread only
  std::unordered_set<RequestId> scheduled_;  // step thread only
  double model_seconds_ = 0.0;               // step thread only (published in stats_)
  std::int64_t num_model_steps_ = 0;         // step thread only
  Status last_error_;                        // written by the step thread before the batch is pushed

  std::atomic<RequestId> next_id_{1};

  std::mutex input_mutex_;
  std::condition_variable input_cv_;
  std::deque<StepInput> input_;
  bool stopping_ = false;

  std::mutex output_mutex_;
  std::condition_variable output_cv_;
  std::deque<OutputBatch> output_;
  bool output_stopping_ = false;

  // Request id -> stream; created by submit(), erased by the output thread
  // after the final event. Callbacks run on the output thread without the lock.
  std::mutex streams_mutex_;
  std::condition_variable streams_cv_;
  std::unordered_map<RequestId, Stream> streams_;
  std::int32_t pending_submits_ = 0;
  bool draining_ = false;
  std::unordered_map<RequestId, double> first_scheduled_;  // output thread only

  mutable std::mutex stats_mutex_;
  EngineStats stats_;
  std::atomic<bool> stats_draining_{false};

  std::thread step_thread_;
  std::thread output_thread_;
};

StatusOr<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<ModelRunner> runner,
                                                 std::shared_ptr<const Tokenizer> tokenizer,
                                                 EngineConfig config) {
  if (runner == nullptr || tokenizer == nullptr)
    return invalid_argument("Engine needs a runner and a tokenizer");
  const ModelConfig& mc = runner->config();
  if (tokenizer->vocab_size() > mc.vocab_size) {
    return invalid_argument("tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                            " tokens but the model's vocab_size is " + std::to_string(mc.vocab_size));
  }
  const KvCacheInfo kv = runner->kv_cache_info();
  config.scheduler.block_size = kv.block_size;
  config.scheduler.num_blocks = kv.num_blocks;
  config.scheduler.max_model_len = static_cast<std::int32_t>(
      std::min<std::int64_t>(config.scheduler.max_model_len, mc.max_position_embeddings));
  config.scheduler.eos_token_ids = mc.eos_token_ids;
  PAGODA_ASSIGN_OR_RETURN(std::unique_ptr<Scheduler> scheduler, Scheduler::create(config.scheduler));
  return std::unique_ptr<Engine>(new Engine(std::make_unique<EngineImpl>(
      std::move(runner), std::move(tokenizer), std::move(config), std::move(scheduler))));
}

Engine::Engine(std::unique_ptr<EngineImpl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

StatusOr<RequestId> Engine::submit(EngineRequest request, StreamCallback callback) {
  return impl_->submit(std::move(request), std::move(callback));
}
void Engine::cancel(RequestId id) {
  impl_->cancel(id);
}
void Engine::drain(std::chrono::milliseconds timeout) {
  impl_->drain(timeout);
}
EngineStats Engine::stats() const {
  return impl_->stats();
}
const ModelConfig& Engine::model_config() const {
  return impl_->runner().config();
}
KvCacheInfo Engine::kv_cache_info() const {
  return impl_->runner().kv_cache_info();
}
Status Engine::runner_health() const {
  return impl_->runner().health();
}
std::string Engine::backend_name() const {
  return impl_->runner().backend_name();
}
std::int32_t Engine::tensor_parallel_size() const {
  return impl_->runner().tensor_parallel_size();
}
std::int32_t Engine::max_model_len() const {
  return impl_->max_model_len();
}
const Tokenizer& Engine::tokenizer() const {
  return impl_->tokenizer();
}

}  // namespace pagoda
