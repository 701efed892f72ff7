#!/usr/bin/env bash
# `make serve`: serves the default model on localhost — gRPC, OpenAI-compatible
# HTTP and Prometheus metrics, each on the port it prints. Without --model,
# `pagoda serve` writes a small random-weight demo model on first run.
# Extra arguments go to `pagoda serve` (e.g. SERVE_ARGS="--model DIR").
set -euo pipefail
build_dir=${1:-build}
shift || true
exec "$build_dir/pagoda" serve "$@"
