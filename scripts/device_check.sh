#!/usr/bin/env bash
# Runs the GPU checks on a lent GPU machine in one call (see docs/cuda.md):
# the gpu-labelled tests, the engine benchmark on the Qwen3-0.6B and -8B
# shapes, the cross-check against transformers, then one summary table. The
# binaries are built on the development machine (`make device-build`, CUDA
# arch sm_90, no server) and carried in .devbuild/; the GPU machine has the
# driver, cuBLAS and NCCL but none of our build dependencies. Logs go to $OUT
# (or /tmp/pagoda-device), each as soon as its part ends.
#
#   bash scripts/device_check.sh [tests|bench|bench8b|hf|all]   (default all)
#   BENCH_ARGS="..." passes flags to the 0.6B benchmark, BENCH8B_ARGS to the
#   8B one (see bench/cuda_engine_bench.cc).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
what="${1:-all}"
out="${OUT:-/tmp/pagoda-device}"
mkdir -p "$out"
bin=.devbuild

# cuBLASLt and NCCL: the toolkit's, else the Python wheels' copies.
libdirs=""
for pattern in 'libcublasLt.so.13*' 'libnccl.so.2*'; do
  f=$(find /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda*/lib* /usr/lib/x86_64-linux-gnu /opt \
        -name "$pattern" 2>/dev/null | head -1)
  [ -n "$f" ] && libdirs="$libdirs:$(dirname "$f")"
done
# Our own non-system dependencies (utf8proc, pcre2) travel in .devbuild/lib.
export LD_LIBRARY_PATH="$PWD/$bin/lib${libdirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.mem,temperature.gpu --format=csv

status=0
summary=()  # one line per part: name, result, seconds
tables=()   # the benchmark logs of this run (each ends with a markdown table)
started=$SECONDS
part_start=0
begin() { echo "=== $1"; part_start=$SECONDS; }
record() { summary+=("$(printf '%-28s %-44s %4ds' "$1" "$2" $((SECONDS - part_start)))"); }

# The 8B checkpoint (16 GB of random bf16) is written on the CPUs while the tests run.
model8b=/tmp/pagoda-bench-8b
writer=""
if { [ "$what" = bench8b ] || [ "$what" = all ]; } && [ ! -f $model8b/config.json ]; then
  "$bin/pagoda" make-model --preset 8b -o $model8b >"$out/make_model_8b.log" 2>&1 &
  writer=$!
fi

if [ "$what" = tests ] || [ "$what" = all ]; then
  for t in cuda_device_test nccl_communicator_test cuda_kernels_test cuda_model_runner_test; do
    [ -x "$bin/$t" ] || { echo "missing $bin/$t"; status=1; continue; }
    begin "$t"
    rc=0
    timeout 240 "$bin/$t" --gtest_brief=1 >"$out/$t.log" 2>&1 || rc=$?
    [ $rc -eq 0 ] || status=1
    grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED|Failure|error" "$out/$t.log" | head -40
    grep -E "relative error|INFO" "$out/$t.log" | head -20
    counts=$(grep -oE "^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+" "$out/$t.log" | sed -E 's/^\[  ([A-Z]+) +\] /\1 /' | tr '\n' ' ')
    [ $rc -eq 124 ] && counts="TIMED OUT $counts"
    record "$t" "exit $rc: ${counts:-no gtest summary}"
  done
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  begin "pagoda_cuda_engine_bench (0.6b)"
  # shellcheck disable=SC2086
  timeout 240 "$bin/pagoda_cuda_engine_bench" ${BENCH_ARGS:-} >"$out/bench.log" 2>&1 || status=1
  grep -vE "^\|" "$out/bench.log"
  tables+=("$out/bench.log")
  record "bench 0.6b" "$(grep -c '^| [^s-]' "$out/bench.log") result rows"
fi
if [ "$what" = all ]; then
  # The same with programmatic kernel launches: what overlapping launches gains.
  begin "pagoda_cuda_engine_bench (0.6b, --pdl 1)"
  timeout 150 "$bin/pagoda_cuda_engine_bench" --pdl 1 --batches 1,8,64 --sampled-batches 1 \
    >"$out/bench_pdl.log" 2>&1 || status=1
  grep -E "^(prefill|decode)" "$out/bench_pdl.log"
  tables+=("$out/bench_pdl.log")
  record "bench 0.6b, --pdl 1" "$(grep -c '^| [^s-]' "$out/bench_pdl.log") result rows"
fi
if [ "$what" = bench8b ] || [ "$what" = all ]; then
  begin "pagoda_cuda_engine_bench (8b)"
  if [ -n "$writer" ] && ! wait "$writer"; then
    echo "make-model 8b failed:"; cat "$out/make_model_8b.log"; status=1
  fi
  # shellcheck disable=SC2086
  timeout 300 "$bin/pagoda_cuda_engine_bench" --preset 8b --model $model8b --steps 10 ${BENCH8B_ARGS:-} \
    >"$out/bench8b.log" 2>&1 || status=1
  grep -vE "^\|" "$out/bench8b.log"
  tables+=("$out/bench8b.log")
  record "bench 8b" "$(grep -c '^| [^s-]' "$out/bench8b.log") result rows"
fi
if [ "$what" = hf ] || [ "$what" = all ]; then
  # Greedy tokens and logprobs against transformers on a random 0.6B-shaped checkpoint.
  begin "hf_crosscheck"
  model=/tmp/pagoda-hf-0.6b
  [ -f $model/config.json ] || "$bin/pagoda" make-model --preset 0.6b -o $model --tokenizer-dir "$bin/tokenizer" >/dev/null
  # shellcheck disable=SC2086
  timeout 240 python3 scripts/hf_crosscheck.py --pagoda "$bin/pagoda" --model $model ${HF_ARGS:-} 2>&1 |
    grep -v Warning | tee "$out/hf_crosscheck.log" | tail -20 || status=1
  if grep -q "hf_crosscheck: ok" "$out/hf_crosscheck.log"; then
    record "hf_crosscheck" "ok"
  else
    status=1
    record "hf_crosscheck" "FAILED (see hf_crosscheck.log)"
  fi
fi

echo
echo "=== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), $(date -u +%F), $((SECONDS - started)) s)"
printf '%s\n' "${summary[@]}"
if [ ${#tables[@]} -gt 0 ]; then
  grep -h "^summary (" "${tables[@]}"
  echo "| shape | step | tokens/s | ms/step | device ms | floor ms | of floor |"
  echo "|---|---|---|---|---|---|---|"
  grep -h "^| [^s-]" "${tables[@]}"
fi
echo "device_check: exit $status"
exit $status
