// Model presets: the real shapes of published Qwen 3 dense models, plus `tiny`
// for unit tests. Used by `pagoda make-model` and benchmarks. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/model/model_config.h"

namespace pagoda {

// Names accepted by model_preset(): "tiny", "0.6b", "1.7b", "4b", "8b", "14b", "32b".
std::vector<std::string> model_preset_names();

// The config of a preset (Qwen 3 token ids and generation defaults included).
StatusOr<ModelConfig> model_preset(std::string_view name);

}  // namespace pagoda
