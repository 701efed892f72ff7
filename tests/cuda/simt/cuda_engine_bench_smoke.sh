#!/usr/bin/env bash
# simt.cuda_engine_bench: pagoda_cuda_engine_bench built for the SIMT emulator,
# one smoke run (--quick 1) per path scripts/device_check.sh times on a GPU:
# the default with the kernel tables, unfused decode with programmatic
# launches and the fixed GEMM rule, the batch-invariant mode and tp 1 through
# NCCL (with --profile 1, whose profiler calls are no-ops here). The
# checkpoint is small (head_dim 128, four query heads per KV head) and the
# prompt 70 tokens (two prefill tiles). Passes when every run exits 0 and prints its summary
# table (header and five rows: prefill, two decode batches, a sampled batch
# with and without penalties); the numbers are the emulator's and mean nothing.
# Usage: cuda_engine_bench_smoke.sh PAGODA_BINARY BENCH_BINARY
set -euo pipefail
pagoda=$1
bench=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$pagoda" make-model --preset tiny --vocab-size 1024 --head-dim 128 --num-heads 8 --num-kv-heads 2 \
  --no-tokenizer -o "$dir/model" >/dev/null

run() {
  local log="$dir/log"
  if ! "$bench" --model "$dir/model" --quick 1 --prompt-len 70 --context 20 --steps 2 --batches 1,3 \
    --sampled-batches 2 "$@" >"$log" 2>&1; then
    cat "$log"
    echo "FAILED: pagoda_cuda_engine_bench $* exited non-zero"
    exit 1
  fi
  local rows
  rows=$(grep -c '^| ' "$log" || true)
  if [ "$rows" -ne 6 ]; then
    cat "$log"
    echo "FAILED: pagoda_cuda_engine_bench $* printed $rows summary lines, expected 6"
    exit 1
  fi
  echo "ok: pagoda_cuda_engine_bench $*"
}

run
run --pdl 1 --fused 0 --tune-gemms 0 --tables 0
run --invariant 1 --tables 0
run --nccl 1 --tables 0 --profile 1
