#!/usr/bin/env bash
# `make serve`: serves the default model on localhost. Until `pagoda serve`
# exists (issue: front ends), this runs the most complete thing that does.
set -euo pipefail
build_dir=${1:-build}
exec "$build_dir/pagoda" info
