#!/usr/bin/env bash
# Issue 6's serving load on Pagoda and on llama.cpp, same weights, same
# machine. Each round starts a fresh `pagoda serve` and drives it over HTTP
# with `pagoda bench serve` (OpenAI completions, streaming), then applies the
# same load to llama.cpp's engine in-process (bench/peer/llama_cpp_load.mjs:
# continuous batching over the same number of slots, no server in the way: a
# stand-in for llama-server, not a measurement of it). Rounds alternate the
# two so this machine's drift falls on both alike; the last lines give the
# medians and Pagoda's ratios.
#
# Usage: scripts/peer_load.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS]
#   MODEL_DIR: a checkpoint with its tokenizer (`pagoda make-model --preset
#   0.6b -o DIR`); its GGUF is cached as MODEL_DIR/../$(basename MODEL_DIR).gguf.
#   The load: 32 requests, 128 tokens in, 32 out, at most 16 in flight
#   (INPUT_LEN, OUTPUT_LEN, NUM_PROMPTS, CONCURRENCY override it).
set -euo pipefail
usage="usage: peer_load.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS]"
build=${1:?$usage}
model=${2:?$usage}
rounds=${3:-3}
threads=${4:-2}
input_len=${INPUT_LEN:-128}
output_len=${OUTPUT_LEN:-32}
num_prompts=${NUM_PROMPTS:-32}
concurrency=${CONCURRENCY:-16}

root=$(cd "$(dirname "$0")/.." && pwd)
pagoda="$build/pagoda"
[[ -x $pagoda ]] || { echo "peer_load.sh: no $pagoda (build first)" >&2; exit 1; }
source "$root/scripts/peer_lib.sh"
peer_gguf "$model"

work=$(mktemp -d)
source "$root/scripts/serve_lib.sh"
trap 'stop_server; rm -rf "$work"' EXIT

# Prints "output_tok_s median_ttft_ms median_tpot_ms".
pagoda_round() {
  start_server
  "$pagoda" bench serve --protocol openai-completions --target "127.0.0.1:$http_port" --dataset random \
    --input-len "$input_len" --output-len "$output_len" --num-prompts "$num_prompts" \
    --max-concurrency "$concurrency" --seed "$1" --no-progress >"$work/bench.out" 2>&1
  stop_server
  awk '/Failed requests:/ && $3 != 0 {bad = 1} /Output token throughput/ {tps = $NF}
       /Median TTFT \(ms\):/ {ttft = $4} /Median TPOT \(ms\):/ {tpot = $4}
       END {if (bad || tps == "") exit 1; print tps, ttft, tpot}' "$work/bench.out" ||
    { cat "$work/bench.out" >&2; exit 1; }
}
llama_round() {
  node "$root/bench/peer/llama_cpp_load.mjs" --model "$gguf" --threads "$threads" --input-len "$input_len" \
    --output-len "$output_len" --num-prompts "$num_prompts" --max-concurrency "$concurrency" --seed "$1" |
    sed -nE 's/.*output ([0-9.]+) tok\/s, median TTFT ([0-9.]+) ms, median TPOT ([0-9.]+) ms/\1 \2 \3/p'
}

printf '%-6s %-10s %14s %16s %16s\n' round engine "output tok/s" "median TTFT ms" "median TPOT ms"
for ((r = 1; r <= rounds; ++r)); do
  read -r a b c < <(pagoda_round "$r")
  read -r d e f < <(llama_round "$r")
  printf '%-6s %-10s %14.2f %16.0f %16.1f\n' "$r" pagoda "$a" "$b" "$c" "$r" llama.cpp "$d" "$e" "$f" |
    tee -a "$work/rounds"
done
awk '$2 == "pagoda" {n++; pt[n] = $3; pf[n] = $4; pp[n] = $5}
     $2 == "llama.cpp" {m++; lt[m] = $3; lf[m] = $4; lp[m] = $5}
  function median(v, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  END {
    a = median(pt, n); b = median(pf, n); c = median(pp, n); d = median(lt, m); e = median(lf, m); f = median(lp, m)
    printf "median pagoda    %14.2f %16.0f %16.1f\n", a, b, c
    printf "median llama.cpp %14.2f %16.0f %16.1f\n", d, e, f
    printf "pagoda / llama.cpp: output %.2fx, median TTFT %.2fx, median TPOT %.2fx\n", a / d, b / e, c / f
  }' "$work/rounds"
