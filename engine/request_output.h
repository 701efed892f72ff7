// RequestOutput: the text side of one request's stream — incremental
// detokenization, stop strings matched across token boundaries (and cut from
// the output), usage and timings — turning RequestEvents into StreamEvents.
// Owned and used by the engine's output thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/stream_event.h"
#include "engine/tokenizer/incremental_detokenizer.h"
#include "scheduler/request_event.h"

namespace pagoda {

class RequestOutput {
 public:
  // `tokenizer` is null when the request asked for no text.
  RequestOutput(RequestId id, const Tokenizer* tokenizer, SamplingParams sampling,
                std::vector<std::int32_t> eos_ids, std::int32_t num_prompt_tokens, double submit_time_ms);

  // Applies one scheduler event. Returns the StreamEvent to deliver, or
  // nothing when there is nothing new to say. After a stop string matched,
  // `stop_matched()` is true and the returned event is final; later events are
  // ignored (the engine tells the scheduler to finish the request).
  std::optional<StreamEvent> on_event(const RequestEvent& event, double now_ms, double first_scheduled_ms);

  // A final event for a request that failed or was aborted outside the scheduler.
  StreamEvent fail(FinishReason reason, Status error, double now_ms);

  bool closed() const { return closed_; }
  bool stop_matched() const { return stop_matched_; }

 private:
  // Appends new text, holding back a tail that could still start a stop string.
  // Returns the text that is safe to send; sets stop_matched_ on a match.
  std::string add_text(const std::string& text);
  std::string flush_text();

  RequestId id_;
  const Tokenizer* tokenizer_;
  SamplingParams sampling_;
  std::vector<std::int32_t> eos_ids_;
  std::unique_ptr<IncrementalDetokenizer> detokenizer_;
  std::string held_;  // text not yet sent (a possible stop-string prefix)
  std::size_t max_stop_len_ = 0;
  Usage usage_;
  double submit_ms_;
  double first_token_ms_ = -1;
  double queue_ms_ = -1;
  bool closed_ = false;
  bool stop_matched_ = false;
  std::string matched_stop_;
};

}  // namespace pagoda
