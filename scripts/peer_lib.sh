# The llama.cpp peer for the side-by-side scripts (peer_bench.sh,
# peer_load.sh); sourced, not run. Needs $root (the checkout).

# peer_gguf MODEL_DIR: checks that the peer is installed, writes the
# checkpoint as GGUF next to it (MODEL_DIR/../NAME.gguf) unless that file is
# newer than its config.json, and sets $gguf to its path.
peer_gguf() {
  local model=$1
  [[ -d $root/bench/peer/node_modules/node-llama-cpp ]] ||
    { echo "$(basename "$0"): no llama.cpp peer (run scripts/setup.sh)" >&2; exit 1; }
  gguf="$(dirname "$model")/$(basename "$model").gguf"
  if [[ ! -f $gguf || $model/config.json -nt $gguf ]]; then
    node "$root/bench/peer/to_gguf.mjs" "$model" "$gguf"
  fi
}
