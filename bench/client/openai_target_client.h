// OpenAiTargetClient: streams /v1/chat/completions or /v1/completions (SSE)
// from any OpenAI-compatible server (Pagoda, vLLM, SGLang, llama-server) with
// Boost.Beast on a few I/O threads; one connection per request, plain or TLS.
// Output tokens are counted one per content-carrying chunk (what these servers
// send) and checked against the usage the server reports with include_usage.
#pragma once

#include <memory>

#include "bench/client/target_client.h"

namespace pagoda::bench {

StatusOr<std::unique_ptr<TargetClient>> make_openai_target_client(const TargetOptions& options);

}  // namespace pagoda::bench
