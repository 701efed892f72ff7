// Workload: the list of requests one benchmark sends, made reproducibly from
// a seed — random lengths, a ShareGPT conversation file, shared prefixes with
// unique suffixes (prefix caching), or a JSONL file of prompts. Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/client/bench_request.h"

namespace pagoda {
class Tokenizer;
}

namespace pagoda::bench {

struct WorkloadOptions {
  std::string kind = "random";  // random | sharegpt | prefix-repetition | file
  std::int64_t num_requests = 100;
  std::uint64_t seed = 0;
  // random: lengths uniform in [len * (1 - range_ratio), len * (1 + range_ratio)].
  std::int32_t input_len = 512;
  std::int32_t output_len = 128;  // also the default output length of file and prefix-repetition
  double range_ratio = 0.0;
  // prefix-repetition: num_prefixes prefixes of prefix_len tokens, each request one of
  // them plus a unique suffix of suffix_len tokens.
  std::int32_t num_prefixes = 8;
  std::int32_t prefix_len = 256;
  std::int32_t suffix_len = 256;
  // sharegpt (a JSON array of {"conversations": [{"from", "value"}...]}) and file
  // (JSONL of {"prompt": TEXT, "max_tokens"?: N}).
  std::string path;
  std::int32_t sharegpt_output_len = 0;  // > 0 overrides the reply length taken from the file
  std::int64_t max_file_bytes = 1ll << 31;

  std::string describe() const;  // "random(in=512±0%,out=128±0%)"
};

// Checks the options (names the flag on error) and builds the requests.
StatusOr<std::vector<BenchRequest>> make_workload(const WorkloadOptions& options, const Tokenizer& tokenizer);

}  // namespace pagoda::bench
