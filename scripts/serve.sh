#!/usr/bin/env bash
# `make serve`: serves the default model on localhost. Until `pagoda serve`
# exists (the front-end issue), this creates the demo model and runs the most
# complete thing that exists.
set -euo pipefail
build_dir=${1:-build}
pagoda="$build_dir/pagoda"
model_dir=${PAGODA_MODEL:-${PAGODA_HOME:-$HOME/.cache/pagoda}/models/demo-tiny}
if [[ ! -f "$model_dir/config.json" ]]; then
  "$pagoda" make-model --preset tiny --seed 0 --out "$model_dir"
fi
"$pagoda" info
echo "demo model: $model_dir"
