#!/usr/bin/env bash
# `make bench-dense`: BM25, dense (all-MiniLM-L6-v2) and hybrid retrieval of `masksearch serve`
# on the demo passages, measured by benches/peers/peers.py's client (the one `make bench-peers`
# uses, standard library only) on the shipped questions: queries/s batched and sequential, p50 /
# p99, and the share of questions whose gold answer is in the top 1 / 3 / 10 passages. Then the
# embedding rate of sentence-transformers on the same model and passages, when a Python with it is
# given (ST_PYTHON=path/to/python; it is not installed here: it needs torch).
# Builds into target/bench-dense (git-ignored). BENCH_SECONDS (default 10) per column per server.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=target/bench-dense
PASSAGES=${PASSAGES:-work/passages.jsonl}
MODEL=assets/models/all-MiniLM-L6-v2
CARGO=${CARGO:-cargo}
mkdir -p "$OUT"
say() { printf '\033[1mbench-dense:\033[0m %s\n' "$*" >&2; }

# MASKSEARCH_BIN: a binary already built (the quality columns do not depend on the build; the
# speed ones do: measure speed with the release build).
if [ -z "${MASKSEARCH_BIN:-}" ]; then
  say "building masksearch (release)"
  $CARGO build --release -p masksearch
fi
BIN=${MASKSEARCH_BIN:-target/release/masksearch}
if [ ! -s "$PASSAGES" ]; then
  mkdir -p "$(dirname "$PASSAGES")"
  "$BIN" ingest assets/corpus/wiki-summaries.jsonl --out "$PASSAGES"
fi
"$BIN" index --passages "$PASSAGES" --out "$OUT/index" --overwrite --dense "$MODEL"

. benches/servers.sh
for r in bm25 dense hybrid; do
  start "$r" "$BIN" serve --index "$OUT/index" --port 0 --retriever "$r"
  declare "URL_$r=$URL"
done
say "one client, three retrievers"
python3 benches/peers/peers.py client "bm25=$URL_bm25" "dense=$URL_dense" "hybrid=$URL_hybrid"
NAMES=(bm25 dense hybrid)
for i in "${!PIDS[@]}"; do
  printf '%s server RSS: %s MB\n' "${NAMES[$i]}" "$(( $(awk '/VmRSS/ {print $2}' "/proc/${PIDS[$i]}/status") / 1024 ))"
done
if [ -n "${ST_PYTHON:-}" ]; then
  say "sentence-transformers on the same passages"
  HF_HUB_OFFLINE=1 "$ST_PYTHON" benches/dense/st_rate.py "$MODEL" "$PASSAGES"
fi
