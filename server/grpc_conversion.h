// Conversions between pagoda.v1 messages and the engine's types: a
// GenerateRequest to a validated GenerationSpec, Tokenize/Detokenize requests
// to their responses, StreamEvents to
// GenerateResponses (one ProtoChoiceStream per choice), pagoda::Status to
// grpc::Status. Runs on gRPC callback threads and the engine's output thread;
// a ProtoChoiceStream is used by one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <grpcpp/support/status.h>

#include "pagoda/v1/pagoda.pb.h"
#include "server/chat_output_parser.h"
#include "server/generation.h"
#include "server/metrics.h"
#include "server/prompt_builder.h"
#include "server/serving_context.h"

namespace pagoda::server {

grpc::Status to_grpc_status(const Status& status);
std::string grpc_code_name(grpc::StatusCode code);

// A parsed and validated Generate/GenerateOnce request.
struct GrpcGeneration {
  GenerationSpec spec;
  bool chat = false;
  bool parse_tools = false;
  bool starts_in_reasoning = false;
  bool want_logprobs = false;
};

StatusOr<GrpcGeneration> parse_generate_request(const ServingContext& ctx, const v1::GenerateRequest& request,
                                                const std::string& tenant);

// Chat input (messages + tools) as the chat template takes it. The JSON texts
// inside (tool call arguments, parameters_json) nest at most
// limits.max_json_depth levels, as an HTTP body does.
StatusOr<ChatPromptInput> chat_input_from_proto(const v1::ChatInput& chat, const RequestLimits& limits);

// Tokenize and Detokenize: validate the request and fill the response.
Status tokenize(const ServingContext& ctx, const v1::TokenizeRequest& request,
                v1::TokenizeResponse* response);
Status detokenize(const ServingContext& ctx, const v1::DetokenizeRequest& request,
                  v1::DetokenizeResponse* response);

v1::FinishReason to_proto_finish_reason(FinishReason reason, bool tool_calls);

// Turns one choice's StreamEvents into GenerateResponses.
class ProtoChoiceStream {
 public:
  ProtoChoiceStream(const ServingContext& ctx, const GrpcGeneration& generation, int index,
                    const std::string& request_id);
  // Fills `out` from the event; false when there is nothing to send.
  bool on_event(const StreamEvent& event, v1::GenerateResponse* out);
  ChoiceMetrics& metrics() { return metrics_; }

 private:
  const ServingContext& ctx_;
  int index_;
  std::string request_id_;
  bool want_logprobs_;
  std::optional<ChatOutputParser> parser_;
  ChoiceMetrics metrics_;
};

}  // namespace pagoda::server
