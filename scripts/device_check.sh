#!/usr/bin/env bash
# Runs the GPU checks on a lent GPU machine in one call (see docs/cuda.md):
# the gpu-labelled tests, then the engine benchmark. The binaries are built on
# the development machine (`make device-build`, CUDA arch sm_90, no server) and
# carried in .devbuild/; the GPU machine has the driver, cuBLAS and NCCL but
# none of our build dependencies. Logs go to $OUT (or /tmp/pagoda-device).
#
#   bash scripts/device_check.sh [tests|bench|bench8b|hf|all]   (default all)
#   BENCH_ARGS="..." passes flags to the benchmark (see bench/cuda_engine_bench.cc).
set -uo pipefail
cd "$(dirname "$0")/.."
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
if [ "$what" = tests ] || [ "$what" = all ]; then
  for t in cuda_device_test nccl_communicator_test cuda_kernels_test cuda_model_runner_test; do
    [ -x "$bin/$t" ] || { echo "missing $bin/$t"; status=1; continue; }
    echo "=== $t"
    if ! timeout 300 "$bin/$t" --gtest_brief=1 >"$out/$t.log" 2>&1; then status=1; fi
    grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED|Failure|error" "$out/$t.log" | head -40
    grep -E "relative error|INFO" "$out/$t.log" | head -20
  done
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  echo "=== pagoda_cuda_engine_bench"
  # shellcheck disable=SC2086
  timeout 300 "$bin/pagoda_cuda_engine_bench" ${BENCH_ARGS:-} 2>&1 | tee "$out/bench.log" || status=1
fi
if [ "$what" = bench8b ]; then
  # The Qwen3-8B shape (writes a 16 GB random checkpoint first: not part of `all`).
  echo "=== pagoda_cuda_engine_bench (8b)"
  timeout 420 "$bin/pagoda_cuda_engine_bench" --preset 8b --model /tmp/pagoda-bench-8b ${BENCH_ARGS:-} 2>&1 |
    tee "$out/bench8b.log" || status=1
fi
if [ "$what" = hf ] || [ "$what" = all ]; then
  # Greedy tokens and logprobs against transformers on a random 0.6B-shaped checkpoint.
  echo "=== hf_crosscheck"
  model=/tmp/pagoda-hf-0.6b
  [ -f $model/config.json ] || "$bin/pagoda" make-model --preset 0.6b -o $model --tokenizer-dir "$bin/tokenizer" >/dev/null
  timeout 300 python3 scripts/hf_crosscheck.py --pagoda "$bin/pagoda" --model $model ${HF_ARGS:-} 2>&1 |
    grep -v Warning | tee "$out/hf_crosscheck.log" | tail -20 || status=1
  grep -q "hf_crosscheck: ok" "$out/hf_crosscheck.log" || status=1
fi
echo "device_check: exit $status"
exit $status
