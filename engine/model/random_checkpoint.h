// Writes random-weight Qwen 3 checkpoints in Hugging Face layout, for tests,
// demos and benchmarks. Deterministic by seed: every tensor's values depend
// only on (seed, tensor name), not on sharding or thread count.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/model/model_config.h"

namespace pagoda {

struct RandomCheckpointOptions {
  ModelConfig config;
  std::uint64_t seed = 0;
  int num_shards = 1;         // 1: model.safetensors; N > 1: an index and N files
  std::string out_dir;        // created if missing
  std::string tokenizer_dir;  // holds tokenizer.json and tokenizer_config.json; "" skips them
  // Target standard deviation of the logits; weights are scaled so greedy
  // decoding has clear margins (with the usual 0.02 init every logit is ~0).
  double logit_std = 4.0;
};

// Writes config.json, generation_config.json, the safetensors file(s) and a
// copy of the tokenizer files.
Status write_random_checkpoint(const RandomCheckpointOptions& options);

}  // namespace pagoda
