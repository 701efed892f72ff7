// GrpcTargetClient: drives pagoda.v1 Generate (server streaming) on the gRPC
// async API — a small state machine per request, no thread per request, all
// on one completion queue polled by one thread of the client's own
// (TargetOptions::num_threads is the HTTP client's). send() may be called
// from any thread.
#pragma once

#include <memory>

#include "bench/client/target_client.h"

namespace pagoda::bench {

StatusOr<std::unique_ptr<TargetClient>> make_grpc_target_client(const TargetOptions& options);

}  // namespace pagoda::bench
