#!/usr/bin/env bash
# The front ends' cost on one stream (issue 6: within 3 % of in-process
# generation). Each round measures decode tokens/s three ways on the same
# machine, same prompt length, output length and sampling defaults:
#   in-process `pagoda generate` (the engine's own timing),
#   one stream over HTTP (OpenAI completions, SSE) to `pagoda serve`,
#   one stream over gRPC to the same server (client-side TPOT, first token
#   excluded, as `pagoda bench serve` reports it).
# Rounds alternate the three, each round in a rotated order, so this machine's
# drift falls on all alike; the medians and the ratios to in-process are
# printed last. Beside tokens/s each side's own model time per step is
# printed (`pagoda generate`'s engine line, the server's
# pagoda_engine_model_seconds_total over the stream), which tells a slower
# model step from time lost between steps. The client runs on the
# same cores as the server, so its CPU time counts against the front ends.
#
# Usage: scripts/frontend_overhead.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS] [SERVER] [SETTLE]
#   MODEL_DIR holds a checkpoint with its tokenizer (`pagoda make-model
#   --preset 0.6b -o DIR --tokenizer-dir ...`).
#   SERVER: `long` (default) starts one server for all rounds, as users run it;
#   `fresh` starts one per round and streams within seconds of its start. With
#   the in-process runs in between, `fresh` measured up to ~4 % faster than
#   `long` in the fast memory state; streamed alternately with nothing between,
#   the two were equal (docs/performance.md, 2026-11-29).
#   SETTLE: seconds of idle before every run (default 15). A stream started
#   right after a `pagoda generate` process ended ran 2-6 % slower than one
#   started 20 s later on this VM (docs/performance.md, 2026-11-30, eleventh
#   session): the other process's memory churn, not the front ends.
set -euo pipefail
usage="usage: frontend_overhead.sh BUILD_DIR MODEL_DIR [ROUNDS] [THREADS] [SERVER] [SETTLE]"
build=${1:?$usage}
model=${2:?$usage}
rounds=${3:-8}
threads=${4:-2}
mode=${5:-long}
settle=${6:-15}
[[ $mode == long || $mode == fresh ]] || { echo "frontend_overhead.sh: SERVER is long or fresh" >&2; exit 2; }
prompt_len=128
output_len=128
pagoda="$build/pagoda"
[[ -x $pagoda ]] || { echo "frontend_overhead.sh: no $pagoda (build first)" >&2; exit 1; }

work=$(mktemp -d)
source "$(dirname "$0")/serve_lib.sh"
trap 'stop_server; rm -rf "$work"' EXIT

ids=$(seq 0 $((prompt_len - 1)) | awk '{printf "%s%d", (NR > 1 ? "," : ""), ($1 * 7919 + 11) % 150000}')

# Prints "decode tokens/s" and "model ms per step" (the engine's own time in
# the model runner, forward pass and sampling, mean over the request's steps).
in_process() {
  "$pagoda" generate --model "$model" --prompt-ids "$ids" --max-tokens "$output_len" --ignore-eos \
    --threads "$threads" --json 2>"$work/generate.err" >"$work/generate.out"
  printf '%s %s\n' "$(grep -o '"decode_tokens_per_s":[0-9.e+-]*' "$work/generate.out" | cut -d: -f2)" \
    "$(sed -n 's/^\[engine: [0-9]* model steps, \([0-9.]*\) ms each in the model\]$/\1/p' "$work/generate.err")"
}
# The server's model time and model steps so far: "seconds steps".
model_counters() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" |
    awk '$1 == "pagoda_engine_model_seconds_total" {s = $2} $1 == "pagoda_engine_model_steps_total" {n = $2}
         END {printf "%s %s\n", s, n}'
}
# One stream; prints decode tokens/s from the client's median TPOT, and the
# server's model ms per step over the stream.
stream() {
  local protocol=$1 port=$2 seed=$3 before tps
  before=$(model_counters)
  tps=$("$pagoda" bench serve --protocol "$protocol" --target "127.0.0.1:$port" --dataset random \
    --input-len "$prompt_len" --output-len "$output_len" --num-prompts 1 --max-concurrency 1 \
    --seed "$seed" --no-progress 2>&1 |
    awk '/Failed requests:/ && $3 != 0 {bad = 1} /Median TPOT \(ms\):/ {tpot = $4}
         END {if (bad || tpot == "") exit 1; printf "%.3f\n", 1000 / tpot}')
  printf '%s %s\n' "$tps" "$(printf '%s %s\n' "$before" "$(model_counters)" |
    awk '{printf "%.3f", ($4 > $2 ? 1000 * ($3 - $1) / ($4 - $2) : 0)}')"
}

printf '%-6s %12s %12s %12s   %s\n' round in-process http grpc \
  "(decode tokens/s, then the engine's model ms per step; $mode server)"
for r in $(seq 1 "$rounds"); do
  [[ $mode == long && -n $server_pid ]] || start_server
  # The three run in turn, and round r starts with the ((r - 1) mod 3)-th: a
  # run measured right after another process's tends to differ from one
  # measured later, so each side takes each place equally often.
  for k in 0 1 2; do
    sleep "$settle"
    case $(((r - 1 + k) % 3)) in
      0) read -r a ma < <(in_process) ;;
      1) read -r b mb < <(stream openai-completions "$http_port" "$r") ;;
      2) read -r c mc < <(stream grpc "$grpc_port" "$r") ;;
    esac
  done
  [[ $mode == long ]] || stop_server
  printf '%-6s %12.2f %12.2f %12.2f   %8.3f %8.3f %8.3f   %6.1f %% %6.1f %%\n' "$r" "$a" "$b" "$c" "$ma" "$mb" "$mc" \
    "$(awk -v x="$b" -v y="$a" 'BEGIN {print 100 * x / y}')" "$(awk -v x="$c" -v y="$a" 'BEGIN {print 100 * x / y}')" |
    tee -a "$work/rounds"
done
# Summaries over the steady rounds only: a round whose three model times per
# step differ by more than 10 % had this machine's memory speed change inside
# it (fast ~17 ms, slow ~26 ms here), and its ratios compare two machines.
# Then two summaries: the ratio of the medians, and the median of each
# round's ratios.
awk '{ if ($5 > 0 && $6 > 0 && $7 > 0) {
         lo = $5; hi = $5
         for (k = 6; k <= 7; k++) { if ($k < lo) lo = $k; if ($k > hi) hi = $k }
         if (hi / lo <= 1.10) { ++n; for (k = 2; k <= 7; k++) v[k, n] = $k; v[8, n] = $8; v[9, n] = $10 }
       } }
  function median(k, n,   i, j, t, w) {
    for (i = 1; i <= n; i++) w[i] = v[k, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
    return n % 2 ? w[(n + 1) / 2] : (w[n / 2] + w[n / 2 + 1]) / 2
  }
  END {
    printf "%d of %d rounds steady (model ms per step within 10 %%)\n", n, NR
    if (n == 0) exit 1
    printf "median %12.2f %12.2f %12.2f   %8.3f %8.3f %8.3f   %6.1f %% %6.1f %%\n", median(2, n), median(3, n),
      median(4, n), median(5, n), median(6, n), median(7, n), median(8, n), median(9, n)
    printf "http: %.1f %% of in-process, grpc: %.1f %% of in-process (ratio of median tokens/s)\n",
      100 * median(3, n) / median(2, n), 100 * median(4, n) / median(2, n)
    printf "http: %.1f %% of in-process, grpc: %.1f %% of in-process (median of the rounds\047 ratios)\n",
      median(8, n), median(9, n)
    printf "model time per step: http %.1f %%, grpc %.1f %% of in-process\n",
      100 * median(6, n) / median(5, n), 100 * median(7, n) / median(5, n)
  }' "$work/rounds"
