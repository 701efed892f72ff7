#!/usr/bin/env bash
# Runs the GPU checks on a lent GPU machine in one call (see docs/cuda.md):
# the gpu-labelled tests, the engine benchmark on the Qwen3-0.6B shape (also
# with --pdl 1) and the -8B shape, the cross-check against transformers, the
# 0.6B benchmark without the decode fusion (--fused 0), without start-up's
# GEMM timing (--tune-gemms 0) and in the batch-invariant mode (--invariant 1)
# if time is left, then one summary table. The
# binaries are built on the development machine (`make device-build`, CUDA
# arch sm_90, no server) and carried in .devbuild/; the GPU machine has the
# driver, cuBLAS and NCCL but none of our build dependencies. Logs are
# written to /tmp/pagoda-device-logs and packed into $OUT/logs.tgz (or
# /tmp/pagoda-device/logs.tgz) as each part ends: the device tool brings back
# at most 8 files, and the end of stdout.
#
#   bash scripts/device_check.sh [tests|bench|bench8b|hf|profile|all]   (default all)
#   BENCH_ARGS="..." passes flags to the 0.6B benchmark, BENCH8B_ARGS to the
#   8B one (see bench/cuda_engine_bench.cc).
#   DEADLINE_S (default 500): seconds the whole run may take. Each part gets
#   its own cap or what is left, whichever is less, and parts with no time
#   left are skipped, so the summary always prints inside the device call.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
what="${1:-all}"
out=/tmp/pagoda-device-logs
packed="${OUT:-/tmp/pagoda-device}"
rm -rf "$out"  # a warm machine keeps the last run's
mkdir -p "$out" "$packed"
pack_logs() { tar czf "$packed/logs.tgz.part" -C "$out" . 2>/dev/null && mv "$packed/logs.tgz.part" "$packed/logs.tgz"; }
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
profiles=() # kernel-time tables from ncu (scripts/ncu_summary.py)
started=$SECONDS
part_start=0
deadline=${DEADLINE_S:-500}
begin() { echo "=== $1"; part_start=$SECONDS; }
record() {
  summary+=("$(printf '%-28s %-44s %4ds' "$1" "$2" $((SECONDS - part_start)))")
  pack_logs
}
# Seconds part may run: its cap, or what is left of the deadline (0: none left).
allow() {
  local left=$((deadline - (SECONDS - started)))
  if [ "$left" -lt 15 ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
# limited CAP command...: the command under `timeout` of allow CAP; exit 125
# without running it when no time is left (`timeout 0` would mean no limit).
limited() {
  local limit
  limit=$(allow "$1")
  shift
  if [ "$limit" -eq 0 ]; then echo "skipped: the ${deadline} s deadline is spent"; return 125; fi
  timeout -k 5 "$limit" "$@"
}

if [ "$what" = tests ] || [ "$what" = all ]; then
  for t in cuda_device_test nccl_communicator_test cuda_kernels_test cuda_model_runner_test cuda_engine_test; do
    [ -x "$bin/$t" ] || { echo "missing $bin/$t"; status=1; continue; }
    begin "$t"
    rc=0
    limited 180 "$bin/$t" >"$out/$t.log" 2>&1 || rc=$?
    [ $rc -eq 0 ] || status=1
    grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED|Failure|error" "$out/$t.log" | head -40
    grep -E "relative error|INFO" "$out/$t.log" | head -20
    counts=$(grep -oE "^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+" "$out/$t.log" | sed -E 's/^\[  ([A-Z]+) +\] /\1 /' | tr '\n' ' ')
    [ $rc -eq 125 ] && counts="skipped (deadline)"
    if [ $rc -eq 124 ]; then
      # A hang: name the test that was running.
      counts="TIMED OUT in $(grep -E '^\[ RUN +\]' "$out/$t.log" | tail -1 | sed -E 's/^\[ RUN +\] //') $counts"
    fi
    record "$t" "exit $rc: ${counts:-no gtest summary}"
  done
fi
# bench NAME LOG CAP flags...: one engine benchmark run, its log in $out/LOG
# and its closing table added to the summary.
bench() {
  local name=$1 log=$out/$2 cap=$3 rc=0
  shift 3
  begin "pagoda_cuda_engine_bench ($name)"
  limited "$cap" "$bin/pagoda_cuda_engine_bench" "$@" >"$log" 2>&1 || rc=$?
  [ $rc -eq 0 ] || status=1
  grep -vE "^\|" "$log"
  tables+=("$log")
  case $rc in
    0) record "bench $name" "$(grep -c '^| [^s-]' "$log") result rows" ;;
    124) record "bench $name" "TIMED OUT after $(grep -c '^| [^s-]' "$log") rows" ;;
    125) record "bench $name" "skipped (deadline)" ;;
    *) record "bench $name" "exit $rc (see $(basename "$log"))" ;;
  esac
}

# The 8B checkpoint (16 GB of random bf16) is written on the CPUs while the
# 0.6B benchmarks keep the GPU busy (the tests need the CPUs for their oracle).
model8b=/tmp/pagoda-bench-8b
writer=""
if { [ "$what" = bench8b ] || [ "$what" = all ]; } && [ ! -f $model8b/config.json ]; then
  # On the upper half of the cores, so that the 0.6B benchmarks' host work
  # (the wall-clock part of their steps) keeps the lower half to itself.
  pin=()
  cores=$(nproc)
  upper="$((cores / 2))-$((cores - 1))"
  if [ "$cores" -ge 4 ] && taskset -c "$upper" true 2>/dev/null; then pin=(taskset -c "$upper"); fi
  nice -n 10 "${pin[@]}" "$bin/pagoda" make-model --preset 8b -o $model8b >"$out/make_model_8b.log" 2>&1 &
  writer=$!
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  # shellcheck disable=SC2086
  bench 0.6b bench.log 150 ${BENCH_ARGS:-}
fi
if [ "$what" = all ]; then
  # The same with programmatic kernel launches: what overlapping launches gains.
  bench "0.6b, --pdl 1" bench_pdl.log 100 --pdl 1 --tables 0 --batches 1,8,64 --sampled-batches 1
fi
if [ "$what" = bench8b ] || [ "$what" = all ]; then
  if [ -n "$writer" ]; then
    # Leave the bench at least a minute of the deadline.
    while kill -0 "$writer" 2>/dev/null && [ "$(allow 240)" -gt 60 ]; do sleep 2; done
    kill "$writer" 2>/dev/null
    if ! wait "$writer"; then echo "make-model 8b failed or ran out of time:"; cat "$out/make_model_8b.log"; status=1; fi
  fi
  if [ -f $model8b/config.json ]; then
    # shellcheck disable=SC2086
    bench 8b bench8b.log 240 --preset 8b --model $model8b --steps 10 ${BENCH8B_ARGS:-}
  else
    begin "pagoda_cuda_engine_bench (8b)"
    record "bench 8b" "skipped: no 8B checkpoint (make_model_8b.log)"
  fi
fi
if [ "$what" = hf ] || [ "$what" = all ]; then
  # Greedy tokens and logprobs against transformers on a random 0.6B-shaped checkpoint.
  begin "hf_crosscheck"
  model=/tmp/pagoda-hf-0.6b
  [ -f $model/config.json ] ||
    limited 60 "$bin/pagoda" make-model --preset 0.6b -o $model --tokenizer-dir "$bin/tokenizer" >/dev/null
  # shellcheck disable=SC2086
  limited 150 python3 scripts/hf_crosscheck.py --pagoda "$bin/pagoda" --model $model ${HF_ARGS:-} 2>&1 |
    grep -v Warning | tee "$out/hf_crosscheck.log" | tail -20 || status=1
  if grep -q "hf_crosscheck: ok" "$out/hf_crosscheck.log"; then
    record "hf_crosscheck" "ok"
  else
    status=1
    record "hf_crosscheck" "FAILED (see hf_crosscheck.log)"
  fi
fi
if [ "$what" = profile ] || [ "$what" = all ]; then
  # Where a step's device time goes: Nsight Compute times every kernel of the
  # steps the bench brackets (--profile 1), scripts/ncu_summary.py sums them
  # by kernel. The 8B shape at batch 1 (the decode goal) when its checkpoint
  # is there, then the 0.6B shape.
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  profile() {  # NAME CAP bench flags...
    local name=$1 cap=$2 rc=0
    shift 2
    begin "ncu profile ($name)"
    if [ -z "$ncu" ]; then
      record "profile $name" "skipped: no ncu on this machine"
      return
    fi
    limited "$cap" "$ncu" --profile-from-start off --clock-control none --cache-control none --csv \
      --print-units base \
      --metrics gpu__time_duration.sum --log-file "$out/ncu_$name.csv" \
      "$bin/pagoda_cuda_engine_bench" --profile 1 --tables 0 --steps 2 "$@" >"$out/profile_$name.log" 2>&1 || rc=$?
    if [ $rc -eq 0 ] && python3 scripts/ncu_summary.py "$out/ncu_$name.csv" "$out/profile_$name.log" \
      >"$out/profile_$name.md" 2>&1; then
      profiles+=("$out/profile_$name.md")
      record "profile $name" "ok ($(grep -c '^profiled step' "$out/profile_$name.log") steps)"
    else
      status=1
      tail -5 "$out/profile_$name.log" "$out/ncu_$name.csv" "$out/profile_$name.md" 2>/dev/null
      record "profile $name" "exit $rc (profile_$name.log, ncu_$name.csv)"
    fi
  }
  if [ -f $model8b/config.json ]; then
    profile 8b 120 --preset 8b --model $model8b --prompt-len 512 --batches 1,64 --sampled-batches 1
  fi
  profile 0.6b 90 --prompt-len 2048 --batches 1,64 --sampled-batches 1
fi
if [ "$what" = all ]; then
  # Last, with what time is left: without the decode fusion (norms and
  # residual adds inside the skinny GEMMs), to see what it gains.
  bench "0.6b, --fused 0" bench_unfused.log 60 --fused 0 --tables 0 --batches 1,4 --sampled-batches 1
  # What timing each GEMM shape's kernel at start-up gains over the fixed rule.
  bench "0.6b, --tune-gemms 0" bench_untuned.log 60 --tune-gemms 0 --tables 0 --batches 1,8,64 \
    --sampled-batches 1
  # And what the batch-invariant mode (--batch-invariant) costs.
  bench "0.6b, --invariant 1" bench_invariant.log 60 --invariant 1 --tables 0 --batches 1,64 --sampled-batches 1
fi

if [ ${#profiles[@]} -gt 0 ]; then
  echo
  echo "=== kernel time per profiled step (ncu; kernels serialised, launch gaps excluded)"
  cat "${profiles[@]}"
fi
echo
echo "=== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), $(date -u +%F), $((SECONDS - started)) s)"
printf '%s\n' "${summary[@]}"
if [ ${#tables[@]} -gt 0 ]; then
  grep -h "^summary (" "${tables[@]}"
  echo "| shape | step | tokens/s | ms/step | device ms | floor ms | of floor |"
  echo "|---|---|---|---|---|---|---|"
  grep -h "^| [^s-]" "${tables[@]}"
  # How many GEMM shapes each kernel won at start-up (GemmKernelChoice), per bench run.
  for t in "${tables[@]}"; do
    echo "$(basename "$t" .log): $(grep -m1 -o 'GEMM kernels timed.*' "$t")"
  done
fi
echo "device_check: exit $status"
exit $status
