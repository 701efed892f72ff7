// Fuzzes config.json and generation_config.json parsing: any text gives a
// config that passes its own validation, or a clean error.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/model/expected_tensor.h"
#include "engine/model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto config = pagoda::parse_model_config(text, "config.json");
  if (!config.ok()) return 0;
  if (!config->validate("config.json").ok()) std::abort();
  (void)pagoda::apply_generation_config(text, "generation_config.json", *config);
  // Shapes derived from a valid config never overflow for small models.
  if (config->num_hidden_layers < 64) (void)pagoda::expected_tensors(*config);
  return 0;
}
