#include "bench/client/target_client.h"

#include "bench/client/grpc_target_client.h"
#include "bench/client/openai_target_client.h"

namespace pagoda::bench {

StatusOr<std::unique_ptr<TargetClient>> make_target_client(const TargetOptions& options) {
  if (options.protocol == "grpc") return make_grpc_target_client(options);
  if (options.protocol == "openai-chat" || options.protocol == "openai-completions")
    return make_openai_target_client(options);
  return invalid_argument("--protocol: '" + options.protocol +
                          "' is not grpc, openai-chat or openai-completions");
}

}  // namespace pagoda::bench
