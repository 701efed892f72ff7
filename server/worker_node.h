// run_worker_node: `pagoda serve` on a worker node (--node-rank > 0) of a
// multi-node group. It serves no API: it loads this node's ranks, joins the
// leader and runs the steps the leader sends until the leader stops the group,
// with Prometheus metrics (liveness, steps run) on the metrics port. SIGTERM
// does not stop it early — the leader is draining and still needs this node's
// ranks — unless the leader has not stopped the group within the shutdown
// timeout. Runs on the calling (main) thread; termination signals must already
// be blocked (block_termination_signals).
#pragma once

#include <functional>
#include <string>

#include "server/serve_options.h"

namespace pagoda::server {

// Returns the process exit code: 0 when the leader stopped the group, 1 when
// the node could not join or the group broke.
int run_worker_node(const ServeOptions& options, const std::function<void(const std::string&)>& announce);

}  // namespace pagoda::server
