// Fuzzes the gRPC requests: byte 0 picks the message (0: GenerateRequest,
// 1: TokenizeRequest, 2: DetokenizeRequest), the rest is its wire bytes, parsed
// with ParseFromArray (as gRPC deserializes) and converted as GrpcService does
// (parse_generate_request, tokenize, detokenize) against a ready
// ServingContext with the default limits. A request either fails cleanly or
// is one the engine accepts (in-vocabulary prompt that leaves room for
// max_tokens, valid sampling, n within the limit).
#include <cstddef>
#include <cstdint>

#include <google/protobuf/stubs/logging.h>

#include "pagoda/v1/pagoda.pb.h"
#include "server/grpc_conversion.h"
#include "tests/fuzz/fuzz_serving_context.h"

// Protobuf logs every string field with invalid UTF-8 it refuses; quiet, so
// the fuzzer's log stays readable (the parse still fails, as on the server).
// The tokenizer and template load here (seconds under ASan), not in the first
// input's -timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  (void)pagoda::fuzz::open_context();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using pagoda::fuzz::check;
  namespace v1 = pagoda::v1;
  pagoda::server::ServingContext& ctx = pagoda::fuzz::open_context();
  const int kind = data[0] % 3;
  const void* bytes = data + 1;
  const int length = static_cast<int>(size - 1);
  if (kind == 0) {
    v1::GenerateRequest request;
    if (!request.ParseFromArray(bytes, length)) return 0;
    auto g = pagoda::server::parse_generate_request(ctx, request, "fuzz");
    if (!g.ok()) return 0;
    const pagoda::server::GenerationSpec& spec = g->spec;
    const std::int32_t vocab = ctx.engine().model_config().vocab_size;
    check(!spec.prompt_ids.empty(), "prompt has tokens");
    for (std::int32_t id : spec.prompt_ids)
      check(id >= 0 && id < vocab, "prompt ids in the vocabulary");
    check(spec.n >= 1 && spec.n <= ctx.limits().max_n, "n within the limit");
    check(spec.sampling.max_tokens >= 1 &&
              static_cast<std::int64_t>(spec.prompt_ids.size()) + spec.sampling.max_tokens <=
                  ctx.engine().max_model_len(),
          "prompt + max_tokens fits the context");
    check(spec.sampling.validate(vocab).ok(), "sampling validates");
  } else if (kind == 1) {
    v1::TokenizeRequest request;
    if (!request.ParseFromArray(bytes, length)) return 0;
    v1::TokenizeResponse response;
    if (pagoda::server::tokenize(ctx, request, &response).ok()) {
      check(response.count() == response.ids_size(), "count is the number of ids");
    }
  } else {
    v1::DetokenizeRequest request;
    if (!request.ParseFromArray(bytes, length)) return 0;
    v1::DetokenizeResponse response;
    (void)pagoda::server::detokenize(ctx, request, &response);
  }
  return 0;
}
