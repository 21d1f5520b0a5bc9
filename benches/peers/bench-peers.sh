#!/usr/bin/env bash
# `make bench-peers`: `masksearch serve` beside the Python BM25 servers RL trainers use — bm25s
# (numba) behind the standard library's http.server and behind FastAPI/uvicorn, and pyserini
# behind FastAPI (Search-R1's retrieval_server.py design) — on the same passages and questions,
# every server behind the same POST /retrieve, one client for all. Prints the table with ratios,
# the answer-in-top-k quality of each server and the overlap with the previous engine's top 10.
#
# Everything it builds lives in target/bench-peers (git-ignored): a virtualenv with pinned
# packages from PyPI, pyserini's Lucene index (Anserini through the JDK), the masksearch index.
# Needs a JDK 11+ (JAVA_HOME, default /usr/lib/jvm/java-17-openjdk-amd64) and `make setup`.
# The overlap column compares with benches/peers/previous-top10.jsonl: the top 10 of the engine
# before the eager-scored one (tantivy's BooleanQuery, commit ad8b587) on the demo passages; it
# means nothing for other PASSAGES. BENCH_SECONDS (default 10) is how long each column runs per server. Run it on an idle machine:
# absolute numbers drift with load, ratios measured in one run are what to compare.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=target/bench-peers
VENV=$OUT/venv
PASSAGES=${PASSAGES:-work/passages.jsonl}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
CARGO=${CARGO:-cargo}
mkdir -p "$OUT"

say() { printf '\033[1mbench-peers:\033[0m %s\n' "$*" >&2; }

# Pinned peers (the versions the issue measured). pyserini's LuceneSearcher needs only a part of
# its declared dependencies: the torch/transformers/spacy/nmslib stack serves its dense and
# neural retrievers, so it is installed without them (peers.py explains the import).
PINS=(bm25s==0.3.16 numba==0.60.0 "numpy<2" PyStemmer==2.2.0.3 fastapi==0.115.6 uvicorn==0.32.1 httptools==0.6.4 uvloop==0.21.0
  pyjnius==1.6.1 pandas==2.2.3 scipy==1.13.1 faiss-cpu==1.8.0 tqdm==4.67.1 requests==2.32.3
  packaging==24.2 pyyaml==6.0.2)
if ! "$VENV/bin/python" -c "import bm25s, numba, fastapi, jnius; assert bm25s.__version__ == '0.3.16'" 2>/dev/null; then
  say "building the virtualenv $VENV (bm25s 0.3.16 + numba, pyserini 0.22.1, FastAPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps pyserini==0.22.1
fi
PY="$VENV/bin/python"

say "building masksearch (release)"
$CARGO build --release -p masksearch
BIN=target/release/masksearch
if [ ! -s "$PASSAGES" ]; then
  mkdir -p "$(dirname "$PASSAGES")"
  "$BIN" ingest assets/corpus/wiki-summaries.jsonl --out "$PASSAGES"
fi
"$BIN" index --passages "$PASSAGES" --out "$OUT/index" --overwrite

if [ ! -d "$OUT/pyserini-index" ] || [ "$PASSAGES" -nt "$OUT/pyserini-index" ]; then
  say "indexing for pyserini (Anserini IndexCollection, as Search-R1's README does)"
  rm -rf "$OUT/pyserini-index" "$OUT/pyserini-corpus"
  "$PY" benches/peers/peers.py pyserini-corpus "$PASSAGES" "$OUT/pyserini-corpus"
  JAR=$(ls "$VENV"/lib/python3*/site-packages/pyserini/resources/jars/anserini-*-fatjar.jar)
  "$JAVA_HOME/bin/java" -cp "$JAR" io.anserini.index.IndexCollection -collection JsonCollection \
    -input "$OUT/pyserini-corpus" -index "$OUT/pyserini-index" \
    -generator DefaultLuceneDocumentGenerator -threads 2 -storePositions -storeDocvectors -storeRaw \
    > "$OUT/pyserini-index.log" 2>&1
fi

. benches/servers.sh

say "starting the servers"
start masksearch "$BIN" serve --index "$OUT/index" --port 0; MS=$URL
start bm25s-stdlib "$PY" benches/peers/peers.py serve bm25s-stdlib "$PASSAGES"; BS=$URL
start bm25s-fastapi "$PY" benches/peers/peers.py serve bm25s-fastapi "$PASSAGES"; BF=$URL
start pyserini "$PY" benches/peers/peers.py serve pyserini-fastapi "$PASSAGES" --pyserini-index "$OUT/pyserini-index"; PS=$URL
# Not a search engine: the stdlib server replaying masksearch's recorded answers, byte for byte.
# Its rate is what this client reaches against a server doing nothing but Python's HTTP handling.
start canned "$PY" benches/peers/peers.py serve canned "$MS"; CS=$URL

say "in-process search (no HTTP)"
$CARGO bench -p index --bench query -- query "$PWD/$OUT/index"  # cargo runs benches in the crate folder
"$PY" benches/peers/peers.py inprocess-bm25s "$PASSAGES"

say "one client, every server"
"$PY" benches/peers/peers.py client "masksearch serve=$MS" "bm25s (numba), http.server=$BS" \
  "bm25s (numba), FastAPI=$BF" "pyserini, FastAPI=$PS" \
  "client ceiling: masksearch's answers replayed by http.server=$CS" --previous benches/peers/previous-top10.jsonl
NAMES=(masksearch bm25s-stdlib bm25s-fastapi pyserini canned)
for i in "${!PIDS[@]}"; do
  printf '%s server RSS: %s MB\n' "${NAMES[$i]}" "$(( $(awk '/VmRSS/ {print $2}' "/proc/${PIDS[$i]}/status") / 1024 ))"
done
