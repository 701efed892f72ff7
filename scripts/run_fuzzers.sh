#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each, starting from
# the committed seed corpus (copied, so new inputs do not dirty the tree) and,
# where tests/fuzz/dict/<name>.dict exists, that libFuzzer dictionary.
# Fails if any target finds a crash, leak or sanitizer error.
set -euo pipefail
build_dir=${1:-build-fuzz}
seconds=${2:-20}
src_dir=$(cd "$(dirname "$0")/.." && pwd)
status=0
shopt -s nullglob
fuzzers=("$build_dir"/fuzz/*_fuzz)
if ((${#fuzzers[@]} == 0)); then
  echo "fuzz: no fuzz targets in $build_dir/fuzz" >&2
  exit 1
fi
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer")
  work=$(mktemp -d)
  if [[ -d "$src_dir/tests/fuzz/corpus/$name" ]]; then cp -r "$src_dir/tests/fuzz/corpus/$name/." "$work/"; fi
  dict=()
  if [[ -f "$src_dir/tests/fuzz/dict/$name.dict" ]]; then dict=(-dict="$src_dir/tests/fuzz/dict/$name.dict"); fi
  echo "fuzz: $name for ${seconds}s"
  if ! "$fuzzer" "$work" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
       -artifact_prefix="$build_dir/fuzz/$name-" -print_final_stats=1 >"$build_dir/fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; log: $build_dir/fuzz/$name.log" >&2
    tail -40 "$build_dir/fuzz/$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$build_dir/fuzz/$name.log" | tail -2 || true
  fi
  rm -rf "$work"
done
exit $status
