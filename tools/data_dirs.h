// Where the `pagoda` binary finds data it ships with (the Qwen 3 tokenizer
// files). Pure lookups; any thread.
#pragma once

#include <string>

#include "base/status.h"

namespace pagoda::tools {

// The directory holding Qwen 3's tokenizer.json and tokenizer_config.json:
// $PAGODA_TOKENIZER_DIR, else the installed share directory, else the npm
// package in the source tree this binary was built from.
StatusOr<std::string> find_tokenizer_dir();

// Where `pagoda serve` and `pagoda generate` put the demo model when --model
// is not given: $PAGODA_HOME/models/demo-tiny, default ~/.cache/pagoda/...
std::string default_model_dir();

}  // namespace pagoda::tools
