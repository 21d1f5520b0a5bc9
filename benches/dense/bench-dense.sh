#!/usr/bin/env bash
# `make bench-dense`: BM25, dense (all-MiniLM-L6-v2) and hybrid retrieval of `masksearch serve`
# on the demo passages, measured by benches/peers/peers.py's client (the one `make bench-peers`
# uses, standard library only) on the shipped questions: queries/s batched and sequential, p50 /
# p99, and the share of questions whose gold answer is in the top 1 / 3 / 10 passages. Then the
# embedding rate of sentence-transformers on the same model and passages, when a Python with it is
# given (ST_PYTHON=path/to/python; the set-up does not install it: `python3 -m venv V && V/bin/pip
# install torch==2.11.0 sentence-transformers==6.2.0` from PyPI, whose torch is the CUDA build: 5 GB).
# FAISS_PYTHON=path/to/python (with torch, transformers, faiss-cpu and FastAPI; `make train-demo`'s
# target/train-venv plus `pip install faiss-cpu==1.15.1`) adds Search-R1's dense server design over
# the same rows (benches/peers/peers.py's Faiss: IndexFlatIP and IndexHNSWFlat) to the table.
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
BIN=${MASKSEARCH_BIN:-${CARGO_TARGET_DIR:-target}/release/masksearch}
if [ ! -s "$PASSAGES" ]; then
  mkdir -p "$(dirname "$PASSAGES")"
  "$BIN" ingest assets/corpus/wiki-summaries.jsonl --out "$PASSAGES"
fi
"$BIN" index --passages "$PASSAGES" --out "$OUT/index" --overwrite --dense "$MODEL"
# The same rows with the shipped HNSW graph, and with a reduced one (128 of 384 components),
# each in a copy of the index (the graph file only is new).
for g in hnsw reduced; do
  rm -rf "$OUT/index-$g"
  cp -r "$OUT/index" "$OUT/index-$g"
done
"$BIN" index --out "$OUT/index-hnsw" --dense "$MODEL" --hnsw
"$BIN" index --out "$OUT/index-reduced" --dense "$MODEL" --hnsw --hnsw-dims 128

. benches/servers.sh
NAMES=()
SERVERS=()
# serve NAME CMD...: starts a server and puts it in the client's list.
serve() {
  start "$@"
  NAMES+=("$1")
  SERVERS+=("$1=$URL")
}
for r in bm25 dense hybrid; do
  serve "$r" "$BIN" serve --index "$OUT/index" --port 0 --retriever "$r"
done
serve "dense-hnsw" "$BIN" serve --index "$OUT/index-hnsw" --port 0 --retriever dense
serve "dense-reduced" "$BIN" serve --index "$OUT/index-reduced" --port 0 --retriever dense
if [ -n "${FAISS_PYTHON:-}" ]; then
  for kind in flat hnsw; do
    serve "faiss-$kind" env HF_HUB_OFFLINE=1 "$FAISS_PYTHON" benches/peers/peers.py \
      serve "faiss-$kind" "$PASSAGES" --dense "$OUT/index/dense"
  done
fi
say "one client, ${#NAMES[@]} servers"
python3 benches/peers/peers.py client "${SERVERS[@]}"
for i in "${!PIDS[@]}"; do
  printf '%s server RSS: %s MB\n' "${NAMES[$i]}" "$(( $(awk '/VmRSS/ {print $2}' "/proc/${PIDS[$i]}/status") / 1024 ))"
done
if [ -n "${ST_PYTHON:-}" ]; then
  say "sentence-transformers on the same passages"
  HF_HUB_OFFLINE=1 "$ST_PYTHON" benches/dense/st_rate.py "$MODEL" "$PASSAGES"
fi
