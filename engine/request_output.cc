#include "engine/request_output.h"

#include <algorithm>

namespace pagoda {

RequestOutput::RequestOutput(RequestId id, const Tokenizer* tokenizer, SamplingParams sampling,
                             std::vector<std::int32_t> eos_ids, std::int32_t num_prompt_tokens,
                             double submit_time_ms)
    : id_(id),
      tokenizer_(tokenizer),
      sampling_(std::move(sampling)),
      eos_ids_(std::move(eos_ids)),
      submit_ms_(submit_time_ms) {
  if (tokenizer_ != nullptr) {
    detokenizer_ = std::make_unique<IncrementalDetokenizer>(*tokenizer_, sampling_.skip_special_tokens);
  }
  for (const std::string& s : sampling_.stop)
    max_stop_len_ = std::max(max_stop_len_, s.size());
  usage_.prompt_tokens = num_prompt_tokens;
}

std::string RequestOutput::add_text(const std::string& text) {
  held_ += text;
  if (max_stop_len_ == 0) return std::exchange(held_, std::string());
  // Earliest match of any stop string in the held text.
  std::size_t best = std::string::npos;
  for (const std::string& s : sampling_.stop) {
    std::size_t pos = held_.find(s);
    if (pos != std::string::npos && (best == std::string::npos || pos < best)) {
      best = pos;
      matched_stop_ = s;
    }
  }
  if (best != std::string::npos) {
    stop_matched_ = true;
    std::string out = held_.substr(0, best);
    held_.clear();
    return out;
  }
  // Keep the longest tail that is a proper prefix of some stop string; never
  // split a UTF-8 character (stop strings are valid UTF-8, so a prefix match
  // ends on a character boundary of the stop string, hence of the text).
  std::size_t keep = 0;
  for (const std::string& s : sampling_.stop) {
    for (std::size_t len = std::min(s.size() - 1, held_.size()); len > keep; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string RequestOutput::flush_text() {
  std::string tail = detokenizer_ ? detokenizer_->finish() : std::string();
  std::string out = add_text(tail);
  if (!stop_matched_) out += std::exchange(held_, std::string());
  return out;
}

std::optional<StreamEvent> RequestOutput::on_event(const RequestEvent& e, double now_ms,
                                                   double first_scheduled_ms) {
  if (closed_) return std::nullopt;
  if (queue_ms_ < 0 && first_scheduled_ms >= 0) queue_ms_ = first_scheduled_ms - submit_ms_;
  StreamEvent out;
  out.request_id = id_;
  if (e.finished) usage_.cached_prompt_tokens = e.num_cached_prompt_tokens;  // set on the final event
  if (e.has_token) {
    out.token_ids.push_back(e.token_id);
    out.timings.token_times_ms.push_back(now_ms - submit_ms_);
    if (first_token_ms_ < 0) first_token_ms_ = now_ms;
    usage_.completion_tokens = e.num_output_tokens;
    if (sampling_.logprobs >= 0) out.logprobs.push_back({e.token_id, e.logprob, e.top_logprobs});
    const bool is_stop_token = e.finished && e.finish_reason == FinishReason::kStop &&
                               (std::find(sampling_.stop_token_ids.begin(), sampling_.stop_token_ids.end(),
                                          e.token_id) != sampling_.stop_token_ids.end() ||
                                (!sampling_.ignore_eos &&
                                 std::find(eos_ids_.begin(), eos_ids_.end(), e.token_id) != eos_ids_.end()));
    if (is_stop_token) out.matched_stop_token = e.token_id;
    // The text of a stop token is not part of the output.
    if (detokenizer_ && !is_stop_token) out.text = add_text(detokenizer_->push(e.token_id));
  }
  if (stop_matched_) {
    out.finished = true;
    out.finish_reason = FinishReason::kStop;
    out.matched_stop = matched_stop_;
  } else if (e.finished) {
    out.text += flush_text();
    out.finished = true;
    out.finish_reason = stop_matched_ ? FinishReason::kStop : e.finish_reason;
    if (stop_matched_) out.matched_stop = matched_stop_;
    if (e.finish_reason == FinishReason::kError)
      out.error = internal_error("the model step computing this request failed");
  }
  out.usage = usage_;
  out.timings.queue_ms = std::max(0.0, queue_ms_);
  out.timings.time_to_first_token_ms = first_token_ms_ < 0 ? 0 : first_token_ms_ - submit_ms_;
  if (out.finished) {
    out.timings.e2e_ms = now_ms - submit_ms_;
    closed_ = true;
  }
  if (!out.finished && out.token_ids.empty() && out.text.empty()) return std::nullopt;
  return out;
}

StreamEvent RequestOutput::fail(FinishReason reason, Status error, double now_ms) {
  StreamEvent out;
  out.request_id = id_;
  out.finished = true;
  out.finish_reason = reason;
  out.error = std::move(error);
  out.usage = usage_;
  out.timings.queue_ms = std::max(0.0, queue_ms_);
  out.timings.time_to_first_token_ms = first_token_ms_ < 0 ? 0 : first_token_ms_ - submit_ms_;
  out.timings.e2e_ms = now_ms - submit_ms_;
  closed_ = true;
  return out;
}

}  // namespace pagoda
