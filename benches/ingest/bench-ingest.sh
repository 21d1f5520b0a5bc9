#!/usr/bin/env bash
# `make bench-ingest`: `masksearch ingest` of a multi-stream MediaWiki dump, its bzip2 streams
# decoded on every core (the default) against one thread (RAYON_NUM_THREADS=1: the decode in line,
# as before) and against lbzip2 decoding into a pipe; then ingest of the plain XML (the parse
# alone: its pages converted on every core, then on one thread) and the decoders alone. Prints
# seconds, pages/s and MB/s (compressed and uncompressed) per row, the fastest of BENCH_RUNS runs
# (default 3), and checks that every ingest wrote the same passages byte for byte.
#
# The input is the shipped dump excerpt scaled up by make-multistream.py (its pages repeated with
# fresh ids to >= BENCH_MB MB of XML, default 200, 100 pages a stream), made once into
# target/tmp-bench (git-ignored; ~50 MB, kept for the next run; the ingest outputs and the plain
# XML are removed at the end). INPUT=file.xml.bz2 measures another dump instead.
# MASKSEARCH_BIN: the binary to measure (default the debug build in CARGO_TARGET_DIR or target/, built if missing; say
# which build when you quote the figures).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=target/tmp-bench
RUNS=${BENCH_RUNS:-3}
CARGO=${CARGO:-cargo}
mkdir -p "$OUT"
say() { printf '\033[1mbench-ingest:\033[0m %s\n' "$*" >&2; }

BIN=${MASKSEARCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/masksearch}
if [ ! -x "$BIN" ]; then
  say "building masksearch (debug)"
  $CARGO build -p masksearch
fi
INPUT=${INPUT:-$OUT/viwiki-multistream.xml.bz2}
if [ ! -s "$INPUT" ]; then
  say "making $INPUT"
  python3 benches/ingest/make-multistream.py testdata/viwiki-20230501-first-100k-lines.xml.bz2 \
    "$INPUT" --min-mb "${BENCH_MB:-200}"
fi
if command -v lbzip2 >/dev/null; then
  LBZIP2=lbzip2
else
  LBZIP2=
  say "lbzip2 is missing: its rows are skipped (make setup installs it; or apt-get install -y lbzip2)"
fi
PLAIN=$OUT/plain.xml
if [ -n "$LBZIP2" ]; then lbzip2 -dc "$INPUT" >"$PLAIN"; else bzip2 -dc "$INPUT" >"$PLAIN"; fi
trap 'rm -f "$PLAIN" "$OUT"/ingest-*.jsonl "$OUT"/ingest-*.jsonl.manifest.json "$OUT"/time' EXIT

PACKED_BYTES=$(stat -c %s "$INPUT")
PLAIN_BYTES=$(stat -c %s "$PLAIN")
PAGES=
printf '%s: %s bytes compressed, %s bytes of XML, %s cores, %s\n' "$INPUT" "$PACKED_BYTES" \
  "$PLAIN_BYTES" "$(nproc)" "$BIN"
printf '%-58s %8s %9s %14s %13s %9s %8s\n' what seconds pages/s "MB/s (bz2)" "MB/s (XML)" \
  "CPU s" "RSS MB"

# row NAME COMMAND: the fastest of $RUNS runs of COMMAND (a shell command line).
row() {
  local name=$1 cmd=$2 best= cpu= rss= i
  for ((i = 0; i < RUNS; i++)); do
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/time" bash -c "$cmd" 2>"$OUT/stderr" >/dev/null ||
      { cat "$OUT/stderr" >&2; say "failed: $cmd"; exit 1; }
    read -r secs user sys kb <"$OUT/time"
    if [ -z "$best" ] || awk "BEGIN { exit !($secs < $best) }"; then
      best=$secs cpu=$(awk "BEGIN { print $user + $sys }") rss=$((kb / 1024))
    fi
  done
  if [ -z "$PAGES" ] && grep -q '^ingest: ' "$OUT/stderr"; then
    PAGES=$(sed -n 's/^ingest: \([0-9,]*\) pages.*/\1/p' "$OUT/stderr" | tr -d ,)
  fi
  rm -f "$OUT/stderr"
  awk -v n="$name" -v s="$best" -v p="${PAGES:-0}" -v c="$PACKED_BYTES" -v u="$PLAIN_BYTES" \
    -v cpu="$cpu" -v rss="$rss" 'BEGIN {
      printf "%-58s %8.2f %9.0f %14.1f %13.1f %9.1f %8d\n", n, s, p / s, c / s / 1e6, u / s / 1e6, cpu, rss
    }'
}

ingest() { echo "$BIN ingest $1 --out $OUT/ingest-$2.jsonl"; }
row "ingest .xml.bz2, streams decoded on every core" "$(ingest "$INPUT" parallel)"
row "ingest .xml.bz2, RAYON_NUM_THREADS=1 (decode in line)" \
  "RAYON_NUM_THREADS=1 $(ingest "$INPUT" one-thread)"
if [ -n "$LBZIP2" ]; then
  row "lbzip2 -dc | ingest /dev/stdin" "lbzip2 -dc $INPUT | $(ingest /dev/stdin pipe) --format xml"
fi
row "ingest of the plain .xml (no decode: the parse alone)" "$(ingest "$PLAIN" plain)"
row "ingest of the plain .xml, RAYON_NUM_THREADS=1 (the pages converted on one thread)" \
  "RAYON_NUM_THREADS=1 $(ingest "$PLAIN" plain-one-thread)"
if [ -n "$LBZIP2" ]; then
  row "lbzip2 -dc > /dev/null (decode alone, every core)" "lbzip2 -dc $INPUT"
  row "lbzip2 -n 1 -dc > /dev/null (decode alone, one thread)" "lbzip2 -n 1 -dc $INPUT"
fi
row "bzip2 -dc > /dev/null (libbz2, decode alone, one thread)" "bzip2 -dc $INPUT"

for f in "$OUT"/ingest-*.jsonl; do
  cmp -s "$f" "$OUT/ingest-parallel.jsonl" || { say "$f differs from ingest-parallel.jsonl"; exit 1; }
done
say "every ingest wrote the same passages ($(wc -l <"$OUT/ingest-parallel.jsonl") lines)"
