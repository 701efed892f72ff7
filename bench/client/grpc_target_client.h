// GrpcTargetClient: drives pagoda.v1 Generate (server streaming) on the gRPC
// callback API — one ClientReadReactor per request, no thread per request.
// send() may be called from any thread; completions run on gRPC's threads.
#pragma once

#include <memory>

#include "bench/client/target_client.h"

namespace pagoda::bench {

StatusOr<std::unique_ptr<TargetClient>> make_grpc_target_client(const TargetOptions& options);

}  // namespace pagoda::bench
