// ExpectedTensor: the tensors a Qwen 3 checkpoint must hold, by Hugging Face
// name and shape ([out_features, in_features] for projections). Pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/model_config.h"

namespace pagoda {

struct ExpectedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
};

// In checkpoint order: embedding, then per layer, then final norm and lm_head
// (omitted when tie_word_embeddings).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

}  // namespace pagoda
