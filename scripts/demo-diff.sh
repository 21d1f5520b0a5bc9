#!/usr/bin/env bash
# Runs `make demo`'s pipeline (scripts/demo.sh) with two masksearch binaries and compares what
# they wrote: every output file byte for byte, except what measures time or names the run's own
# folder, which is compared with those fields left out. For a change meant to keep behaviour
# (a refactor): build the old revision's binary (`git worktree add ../old REV && cargo build`
# there), then
#
#   scripts/demo-diff.sh ../old/target/debug/masksearch target/debug/masksearch
#
# Each run goes to its own folder (DIFF_DIR, default target/demo-diff/{before,after}) holding a
# copy of scripts/demo.sh and links to assets/ and testdata/, so ./work is left alone. About
# twice the demo's time. Exit 0 when the outputs agree, 1 with the differences listed.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${DIFF_DIR:-target/demo-diff}
declare -A BIN=([before]=$(realpath "$1") [after]=$(realpath "$2"))
for side in before after; do
  dir=$OUT/$side
  rm -rf "$dir"; mkdir -p "$dir/scripts"
  cp scripts/demo.sh "$dir/scripts/"
  ln -s "$ROOT/assets" "$dir/assets"; ln -s "$ROOT/testdata" "$dir/testdata"
  echo "demo-diff: $side: ${BIN[$side]} → $dir/work (log in $dir/demo.log)" >&2
  (cd "$dir" && MASKSEARCH_BIN=${BIN[$side]} bash scripts/demo.sh > demo.log 2>&1) \
    || { echo "demo-diff: the $side run failed; see $dir/demo.log" >&2; exit 1; }
done
python3 - "$OUT/before/work" "$OUT/after/work" <<'PY'
import json, pathlib, sys

before, after = map(pathlib.Path, sys.argv[1:])
# Wall times differ from run to run; an index's segment files are named at random (its search
# results are compared through the trajectories and eval answers made from it); the response
# cache is a database file whose layout is not its content; the server's port is chosen at start.
TIMES = {"ms", "elapsed_secs", "seconds"}
SKIP = {"llm-cache.redb", "serve.out"}

def untimed(value):
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value

def records(path):
    text = path.read_text()
    if path.suffix == ".json":
        return [untimed(json.loads(text))]
    return [untimed(json.loads(line)) for line in text.splitlines() if line.strip()]

def files(root):
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and "index" not in p.parts}

differences = []
a, b = files(before), files(after)
for missing in sorted(a ^ b):
    differences.append(f"{missing}: only in {'before' if missing in a else 'after'}")
for rel in sorted(a & b):
    x, y = before / rel, after / rel
    if rel.name in SKIP or x.read_bytes() == y.read_bytes():
        continue
    if rel.suffix in (".json", ".jsonl") and records(x) == records(y):
        continue
    if rel.name.startswith("report."):
        continue  # latency columns; the answers behind them are compared in predictions.jsonl
    differences.append(f"{rel}: differs")
for d in differences:
    print("demo-diff:", d, file=sys.stderr)
print(f"demo-diff: {len(a & b)} files compared, {len(differences)} differ", file=sys.stderr)
sys.exit(1 if differences else 0)
PY
