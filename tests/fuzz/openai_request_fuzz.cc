// Fuzzes the OpenAI request bodies: the first byte picks the endpoint (even:
// POST /v1/chat/completions, odd: POST /v1/completions), the rest is the body.
// It goes through the server's own path — parse_json_body with the default
// nesting cap, then parse_chat_completion_request / parse_completion_request
// against a ready ServingContext with the default RequestLimits, the Qwen 3
// tokenizer and chat template — and must give a clean error or requests the
// engine would accept: prompts of in-vocabulary ids that leave room in the
// context for max_tokens, valid sampling, n within the limit.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/http_request.h"
#include "server/openai_request.h"
#include "tests/fuzz/fuzz_serving_context.h"

namespace {

using pagoda::fuzz::check;
using pagoda::server::GenerationSpec;
using pagoda::server::ServingContext;

void check_spec(const GenerationSpec& spec, const ServingContext& ctx) {
  const std::int32_t vocab = ctx.engine().model_config().vocab_size;
  check(!spec.prompt_ids.empty(), "prompt has tokens");
  for (std::int32_t id : spec.prompt_ids)
    check(id >= 0 && id < vocab, "prompt ids in the vocabulary");
  check(spec.n >= 1 && spec.n <= ctx.limits().max_n, "n within the limit");
  check(spec.sampling.max_tokens >= 1, "max_tokens at least 1");
  check(static_cast<std::int64_t>(spec.prompt_ids.size()) + spec.sampling.max_tokens <=
            ctx.engine().max_model_len(),
        "prompt + max_tokens fits the context");
  check(spec.sampling.validate(vocab).ok(), "sampling validates");
}

}  // namespace

// Loads the tokenizer and template before fuzzing starts (seconds under
// ASan), so that time never counts against the first input's -timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)pagoda::fuzz::open_context();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ServingContext& ctx = pagoda::fuzz::open_context();
  const bool chat = (data[0] & 1) == 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto body = pagoda::server::parse_json_body(text, ctx.limits().max_json_depth);
  if (!body.ok()) return 0;
  if (chat) {
    auto request = pagoda::server::parse_chat_completion_request(*body, ctx);
    if (!request.ok()) return 0;
    check_spec(request->spec, ctx);
    check(request->params.n == request->spec.n, "params.n is the spec's n");
  } else {
    auto request = pagoda::server::parse_completion_request(*body, ctx);
    if (!request.ok()) return 0;
    check(!request->specs.empty(), "at least one prompt");
    for (const GenerationSpec& spec : request->specs)
      check_spec(spec, ctx);
  }
  return 0;
}
