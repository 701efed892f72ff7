#!/usr/bin/env bash
# The front ends' cost on one stream (issue 6: within 3 % of in-process
# generation). Each round measures decode tokens/s three ways on the same
# machine, same prompt length, output length and sampling defaults:
#   in-process `pagoda generate` (the engine's own timing),
#   one stream over HTTP (OpenAI completions, SSE) to `pagoda serve`,
#   one stream over gRPC to the same server (client-side TPOT, first token
#   excluded, as `pagoda bench serve` reports it).
# Rounds alternate the three so this machine's drift falls on all alike; the
# medians and the ratios to in-process are printed last. The client runs on
# the same cores as the server, so its CPU time counts against the front ends.
#
# Usage: scripts/frontend_overhead.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS] [SERVER]
#   MODEL_DIR holds a checkpoint with its tokenizer (`pagoda make-model
#   --preset 0.6b -o DIR --tokenizer-dir ...`).
#   SERVER: `long` (default) starts one server for all rounds, as users run it;
#   `fresh` starts one per round and streams within seconds of its start. With
#   the in-process runs in between, `fresh` measured up to ~4 % faster than
#   `long` in the fast memory state; streamed alternately with nothing between,
#   the two were equal (docs/performance.md, 2026-11-29).
set -euo pipefail
build=${1:?usage: frontend_overhead.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS] [SERVER]}
model=${2:?usage: frontend_overhead.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS] [SERVER]}
rounds=${3:-8}
threads=${4:-2}
mode=${5:-long}
[[ $mode == long || $mode == fresh ]] || { echo "frontend_overhead.sh: SERVER is long or fresh" >&2; exit 2; }
prompt_len=128
output_len=128
pagoda="$build/pagoda"
[[ -x $pagoda ]] || { echo "frontend_overhead.sh: no $pagoda (build first)" >&2; exit 1; }

work=$(mktemp -d)
source "$(dirname "$0")/serve_lib.sh"
trap 'stop_server; rm -rf "$work"' EXIT

ids=$(seq 0 $((prompt_len - 1)) | awk '{printf "%s%d", (NR > 1 ? "," : ""), ($1 * 7919 + 11) % 150000}')

in_process() {
  "$pagoda" generate --model "$model" --prompt-ids "$ids" --max-tokens "$output_len" --ignore-eos \
    --threads "$threads" --json 2>/dev/null |
    grep -o '"decode_tokens_per_s":[0-9.e+-]*' | cut -d: -f2
}
# One stream; prints decode tokens/s from the client's median TPOT.
stream() {
  local protocol=$1 port=$2 seed=$3
  "$pagoda" bench serve --protocol "$protocol" --target "127.0.0.1:$port" --dataset random \
    --input-len "$prompt_len" --output-len "$output_len" --num-prompts 1 --max-concurrency 1 \
    --seed "$seed" --no-progress 2>&1 |
    awk '/Failed requests:/ && $3 != 0 {bad = 1} /Median TPOT \(ms\):/ {tpot = $4}
         END {if (bad || tpot == "") exit 1; printf "%.3f\n", 1000 / tpot}'
}

printf '%-6s %12s %12s %12s   (decode tokens/s; %s server)\n' round in-process http grpc "$mode"
for r in $(seq 1 "$rounds"); do
  a=$(in_process)
  [[ $mode == long && -n $server_pid ]] || start_server
  b=$(stream openai-completions "$http_port" "$r")
  c=$(stream grpc "$grpc_port" "$r")
  [[ $mode == long ]] || stop_server
  printf '%-6s %12.2f %12.2f %12.2f\n' "$r" "$a" "$b" "$c" | tee -a "$work/rounds"
done
awk '{a[NR] = $2; b[NR] = $3; c[NR] = $4}
  function median(v, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  END {
    n = NR; ma = median(a, n); mb = median(b, n); mc = median(c, n)
    printf "median %12.2f %12.2f %12.2f\n", ma, mb, mc
    printf "http: %.1f %% of in-process, grpc: %.1f %% of in-process\n", 100 * mb / ma, 100 * mc / ma
  }' "$work/rounds"
