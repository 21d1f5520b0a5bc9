# Sourced by the bench scripts (after they set OUT and define `say`): servers started in the
# background, stopped when the script exits.
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
# Starts a server in the background; sets URL to the one it prints (`listening on URL`).
start() {
  local name=$1; shift
  "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" &
  PIDS+=($!)
  for _ in $(seq 600); do
    grep -q '^listening on ' "$OUT/$name.out" 2>/dev/null && break
    sleep 0.2
  done
  URL=$(sed -n 's/^listening on //p' "$OUT/$name.out")
  [ -n "$URL" ] || { cat "$OUT/$name.err" >&2; say "$name did not start"; exit 1; }
}
