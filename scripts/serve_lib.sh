# Starts and stops one `pagoda serve` for the measurement scripts
# (frontend_overhead.sh, peer_load.sh); sourced, not run.
# Needs $pagoda, $model, $threads and $work (a scratch directory); sets
# $server_pid, $http_port, $grpc_port and $metrics_port. Extra serve flags:
# start_server ARGS.
server_pid= http_port= grpc_port= metrics_port=

start_server() {
  : >"$work/serve.log"
  "$pagoda" serve --model "$model" --num-threads "$threads" --http-port 0 --grpc-port 0 --metrics-port 0 \
    "$@" >"$work/serve.log" 2>&1 &
  server_pid=$!
  # The ports the server picked, from its start-up log; then wait until ready.
  for _ in $(seq 1 120); do
    http_port=$(grep -o '^http listening on [0-9.]*:[0-9]*' "$work/serve.log" | grep -o '[0-9]*$' || true)
    grpc_port=$(grep -o '^grpc listening on [0-9.]*:[0-9]*' "$work/serve.log" | grep -o '[0-9]*$' || true)
    metrics_port=$(grep -o '^metrics listening on [0-9.]*:[0-9]*' "$work/serve.log" | grep -o '[0-9]*$' || true)
    if [[ -n $http_port && -n $grpc_port ]] && curl -sf "http://127.0.0.1:$http_port/health" >/dev/null; then
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "$(basename "$0"): server not ready" >&2
  exit 1
}

# Idempotent: a no-op when no server runs (so it also serves as the EXIT trap's).
stop_server() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
