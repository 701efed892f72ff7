#!/usr/bin/env bash
# Runs ctest in BUILD_DIR with a temp dir of its own (TMPDIR, TEST_TMPDIR) and
# fails when the tests leave anything in it: every test cleans up after itself
# (tests/test_temp_dir.h), or a long-lived machine's disk fills run after run.
# Usage: scripts/run_ctest.sh BUILD_DIR [ctest arguments...]
set -euo pipefail
build_dir=$(cd "$1" && pwd)
shift
tmp="$build_dir/test-tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
cd "$build_dir"
TMPDIR="$tmp" TEST_TMPDIR="$tmp" ctest "$@"
left=$(find "$tmp" -mindepth 1 -maxdepth 1)
if [[ -n "$left" ]]; then
  echo "run_ctest: the tests left these behind in $tmp (each test must remove what it writes):" >&2
  echo "$left" >&2
  exit 1
fi
rmdir "$tmp"
