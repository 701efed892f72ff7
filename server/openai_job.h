// OpenAiJob: the life of one OpenAI-API generation over HTTP, shared by chat
// and completions — submits its choices to the engine, brings their events
// onto the session's strand, streams them as server-sent events or collects
// them for one JSON response, and cancels everything when the client leaves.
// Owned by shared_ptr (engine callbacks and posted handlers hold it); all
// state is touched on the strand only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/generation.h"
#include "server/http_exchange.h"
#include "server/metrics.h"
#include "server/serving_context.h"

namespace pagoda::server {

class OpenAiJob : public std::enable_shared_from_this<OpenAiJob> {
 public:
  virtual ~OpenAiJob();
  // Parses, submits and starts the response; on the strand.
  void start(const nlohmann::ordered_json& body);

 protected:
  OpenAiJob(ServingContext* ctx, std::shared_ptr<HttpExchange> exchange, std::string tenant,
            const char* id_prefix);

  // Validates the body and fills specs_ (one per prompt, each with n_ choices), stream_, include_usage_.
  virtual Status prepare(const nlohmann::ordered_json& body) = 0;
  // One event of a choice (index = prompt * n_ + i).
  virtual void on_event(int choice, const StreamEvent& event) = 0;
  // The whole response when not streaming.
  virtual nlohmann::ordered_json final_response() = 0;
  // "chat.completion.chunk" or "text_completion".
  virtual const char* stream_chunk_object() const = 0;

  // "data: <chunk>\n\n".
  void send_chunk(const nlohmann::ordered_json& chunk);
  nlohmann::ordered_json usage_json() const;
  // The non-streaming response: {id, object, created, model, choices, usage}.
  nlohmann::ordered_json response_json(const char* object, nlohmann::ordered_json choices) const;
  // OpenAI's finish_reason for an engine FinishReason.
  static const char* finish_reason_string(FinishReason reason, bool tool_calls);
  // A token's text and bytes, for logprobs.
  std::string token_text(std::int32_t id) const;
  nlohmann::ordered_json token_bytes(std::int32_t id) const;

  ServingContext* ctx_;
  std::shared_ptr<HttpExchange> ex_;
  std::string tenant_;
  std::string id_;
  std::int64_t created_;
  std::vector<GenerationSpec> specs_;
  std::int32_t n_ = 1;
  bool stream_ = false;
  bool include_usage_ = false;
  std::int64_t prompt_tokens_ = 0;
  std::int64_t completion_tokens_ = 0;
  std::int64_t cached_tokens_ = 0;

 private:
  void deliver(int choice, StreamEvent event);
  void complete();
  void cancel_all();

  std::vector<RequestId> engine_ids_;
  std::vector<ChoiceMetrics> metrics_;
  std::size_t num_finished_ = 0;
  bool cancelled_ = false;
  bool completed_ = false;
  Status error_;
  std::string last_finish_reason_;
};

}  // namespace pagoda::server
