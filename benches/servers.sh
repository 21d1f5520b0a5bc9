# Sourced by the bench scripts (after they set OUT and define `say`): servers started in the
# background, stopped by `stop` or when the script exits.
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
# Starts a server in the background; sets PID to its process and URL to the address it prints
# (`listening on URL`). Returns 1, URL empty, if it exits first or has printed nothing after
# START_SECONDS (default 120).
try_start() {
  local name=$1; shift
  # Emptied here, not only by the redirection below: that one happens in the background, and
  # the loop could first read the address of an earlier run's server.
  : > "$OUT/$name.out"
  "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" &
  PID=$!
  PIDS+=("$PID")
  URL=
  local deadline=$((SECONDS + ${START_SECONDS:-120}))
  until grep -q '^listening on ' "$OUT/$name.out" 2>/dev/null; do
    if ! kill -0 "$PID" 2>/dev/null || ((SECONDS >= deadline)); then return 1; fi
    sleep 0.2
  done
  URL=$(sed -n 's/^listening on //p' "$OUT/$name.out")
  [ -n "$URL" ]
}
# As try_start, but a server that does not start ends the script.
start() {
  try_start "$@" || { cat "$OUT/$1.err" >&2; say "$1 did not start"; exit 1; }
}
# Stops the server whose process is $1 (SIGTERM) and waits for it; the exit trap then leaves
# its process id alone (it may have been given to another process since).
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}
