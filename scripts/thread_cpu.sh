#!/usr/bin/env bash
# CPU seconds (user + system) of a running process, summed per thread name
# (/proc/<pid>/task/<tid>/comm): Pagoda names its threads pagoda-step,
# pagoda-output, pagoda-pool, pagoda-rank<N>, pagoda-http; gRPC names its own.
# Threads that exited are not counted. Take one reading before and one after a
# run and subtract (docs/performance.md does so for the front ends' CPU time).
# Usage: scripts/thread_cpu.sh PID
set -euo pipefail
pid=${1:?usage: thread_cpu.sh PID}
[[ -d /proc/$pid/task ]] || { echo "thread_cpu.sh: no process $pid" >&2; exit 1; }
ticks=$(getconf CLK_TCK)
for task in /proc/"$pid"/task/*; do
  name=$(cat "$task/comm" 2>/dev/null) || continue
  # Fields after the ")" that ends comm: utime and stime are the 12th and 13th.
  stat=$(cat "$task/stat" 2>/dev/null) || continue
  read -r -a f <<<"${stat##*) }"
  echo "$name ${f[11]} ${f[12]}"
done | awk -v hz="$ticks" '{cpu[$1] += ($2 + $3) / hz} END {for (n in cpu) printf "%-16s %9.2f\n", n, cpu[n]}' | sort
