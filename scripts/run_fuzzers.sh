#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each, starting from
# the committed seed corpus (copied, so new inputs do not dirty the tree) and,
# where tests/fuzz/dict/<name>.dict exists, that libFuzzer dictionary. Targets
# run JOBS at a time (default: the number of CPUs; each fuzzer is one thread).
# Fails if any target finds a crash, leak or sanitizer error.
set -euo pipefail
build_dir=${1:-build-asan}
seconds=${2:-20}
jobs=${3:-$(nproc)}
src_dir=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
fuzzers=("$build_dir"/fuzz/*_fuzz)
if ((${#fuzzers[@]} == 0)); then
  echo "fuzz: no fuzz targets in $build_dir/fuzz" >&2
  exit 1
fi

# One target; its output goes to $build_dir/fuzz/<name>.log.
run_one() {
  local fuzzer=$1 name work
  name=$(basename "$fuzzer")
  work=$(mktemp -d)
  if [[ -d "$src_dir/tests/fuzz/corpus/$name" ]]; then cp -r "$src_dir/tests/fuzz/corpus/$name/." "$work/"; fi
  local dict=()
  if [[ -f "$src_dir/tests/fuzz/dict/$name.dict" ]]; then dict=(-dict="$src_dir/tests/fuzz/dict/$name.dict"); fi
  local rc=0
  "$fuzzer" "$work" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
    -artifact_prefix="$build_dir/fuzz/$name-" -print_final_stats=1 >"$build_dir/fuzz/$name.log" 2>&1 || rc=$?
  rm -rf "$work"
  return $rc
}

echo "fuzz: ${#fuzzers[@]} targets, ${seconds}s each, $jobs at a time"
declare -A pid_of
for fuzzer in "${fuzzers[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$fuzzer" &
  pid_of[$fuzzer]=$!
done

status=0
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer")
  if wait "${pid_of[$fuzzer]}"; then
    echo "fuzz: $name ok: $(grep -E "stat::number_of_executed_units" "$build_dir/fuzz/$name.log" | tail -1 || true)"
  else
    echo "fuzz: $name FAILED; log: $build_dir/fuzz/$name.log" >&2
    tail -40 "$build_dir/fuzz/$name.log" >&2
    status=1
  fi
done
exit $status
