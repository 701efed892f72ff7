// The serving state the request fuzzers parse against: what `pagoda serve`
// has once ready — default ServeOptions (so the server's default
// RequestLimits), the real Qwen 3 tokenizer and chat template, and an Engine
// with Qwen3-0.6B's shape (vocabulary, context length, generation defaults)
// whose model runner never runs: the fuzzers parse and validate requests, they
// never submit them. Built once per process.
#pragma once

#include "server/serving_context.h"
#include "tests/fuzz/fuzz_check.h"

namespace pagoda::fuzz {

// No API keys: every caller is the tenant "default".
server::ServingContext& open_context();
// API keys "sk-fuzz-a" (tenant "a") and "sk-fuzz-b" (tenant "b").
server::ServingContext& keyed_context();

}  // namespace pagoda::fuzz
