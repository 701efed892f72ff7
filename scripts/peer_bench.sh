#!/usr/bin/env bash
# Pagoda's CPU backend side by side with llama.cpp (issue 4's peer) on this
# machine, on the very same weights: the checkpoint is written once as GGUF
# (bench/peer/to_gguf.mjs, bf16 kept), then rounds alternate
# `pagoda_engine_bench` and bench/peer/llama_cpp_bench.mjs with the same
# threads, prompt length, context, steps and batches, so this machine's
# bandwidth drift falls on both alike. llama.cpp runs twice a round, with its
# weights mapped from the file (its default) and read in (--no-mmap): neither
# was faster at everything here, so each figure is compared with llama.cpp's
# better one of that round. The last lines give, per round, Pagoda's rate over
# llama.cpp's for prefill and each decode batch.
#
# Usage: scripts/peer_bench.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS] [-- BENCH ARGS]
#   MODEL_DIR: a Hugging Face Qwen 3 checkpoint with its tokenizer
#   (`pagoda make-model --preset 0.6b -o DIR`); its GGUF is cached as
#   MODEL_DIR/../$(basename MODEL_DIR).gguf. BENCH ARGS go to both benchmarks
#   (default: --prompt-len 512 --context 128 --steps 8 --batches 1,8,32).
set -euo pipefail
usage="usage: peer_bench.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS] [-- BENCH ARGS]"
build=${1:?$usage}
model=${2:?$usage}
shift 2
rounds=3
threads=2
if [[ $# -gt 0 && $1 != -- ]]; then rounds=$1; shift; fi
if [[ $# -gt 0 && $1 != -- ]]; then threads=$1; shift; fi
if [[ $# -gt 0 && $1 == -- ]]; then shift; fi
args=("$@")
((${#args[@]})) || args=(--prompt-len 512 --context 128 --steps 8 --batches 1,8,32)

root=$(cd "$(dirname "$0")/.." && pwd)
bench="$build/bench/pagoda_engine_bench"
[[ -x $bench ]] || { echo "peer_bench.sh: no $bench (build first)" >&2; exit 1; }
source "$root/scripts/peer_lib.sh"
peer_gguf "$model"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((r = 1; r <= rounds; ++r)); do
  echo "== round $r: Pagoda"
  "$bench" --model "$model" --threads "$threads" "${args[@]}" | tee "$work/pagoda.$r"
  for mmap in "" --no-mmap; do
    echo "== round $r: llama.cpp $mmap"
    node "$root/bench/peer/llama_cpp_bench.mjs" --model "$gguf" --threads "$threads" ${mmap:+"$mmap"} "${args[@]}" |
      tee -a "$work/llama.$r"
  done
done

# "prefill N tokens: R tokens/s" and "decode batch B: R tokens/s" -> "key rate".
rates() { sed -nE 's/^(prefill) [0-9]+ tokens: ([0-9.]+) tokens\/s.*/\1 \2/p;
                   s/^decode batch +([0-9]+): +([0-9.]+) tokens\/s.*/batch-\1 \2/p' "$1"; }
echo "== Pagoda / llama.cpp, tokens/s per round (same weights, $threads threads)"
for ((r = 1; r <= rounds; ++r)); do
  # In Pagoda's order, against llama.cpp's better run; a key llama.cpp did
  # not print is a failure.
  awk -v r="$r" 'NR == FNR { if ($2 > peer[$1]) peer[$1] = $2; next }
    !($1 in peer) { print "peer_bench.sh: llama.cpp printed no " $1 > "/dev/stderr"; exit 1 }
    { printf "round %d  %-9s %8.1f / %7.1f = %.2fx\n", r, $1, $2, peer[$1], $2 / peer[$1] }' \
    <(rates "$work/llama.$r") <(rates "$work/pagoda.$r")
done
