// ServerView: what the target's own Prometheus endpoint said about a run —
// KV cache usage, queue depth, preemptions and prefix-cache hit rate — from
// scrapes before, during (periodic) and after it. Understands vLLM-compatible
// names (`vllm:num_requests_waiting`, ...) that Pagoda, vLLM and SGLang expose.
#pragma once

#include <cstdint>
#include <string>

namespace pagoda::bench {

struct ServerView {
  bool available = false;                                  // at least the before and after scrapes succeeded
  std::string error;                                       // why not, when !available
  std::int64_t num_samples = 0;                            // scrapes taken during the run
  double kv_cache_usage_mean = 0, kv_cache_usage_max = 0;  // fraction 0-1
  double num_waiting_mean = 0, num_waiting_max = 0;
  double num_running_mean = 0, num_running_max = 0;
  double preemptions = 0;             // counter increase over the run
  double prefix_cache_queries = 0;    // tokens, counter increase
  double prefix_cache_hits = 0;       // tokens, counter increase
  double prefix_cache_hit_rate = -1;  // hits / queries; -1 when no queries
  double prompt_tokens = 0;           // server-counted, increase over the run
  double generation_tokens = 0;
};

}  // namespace pagoda::bench
