#!/usr/bin/env bash
# `make bench-peers`: `masksearch serve` beside the Python BM25 servers RL trainers use — bm25s
# (numba) behind the standard library's http.server and behind FastAPI/uvicorn, and pyserini
# behind FastAPI (Search-R1's retrieval_server.py design) — on the same passages and questions,
# every server behind the same POST /retrieve, one client for all. masksearch is served twice:
# with its default documents and with `--doc-fields id,contents` (what Search-R1's and verl's
# clients read). Each server is started, measured and stopped before the next, so none shares the
# machine with another while measured. Prints two tables, ratios to the first row:
#   - for each server, a thin client's columns (answers read by length: the server's speed) and
#     a parsing client's (json.loads and every document's `contents`: what a trainer sees, and
#     the microseconds of it spent decoding a query's answer), then
#     the answer-in-top-k quality and the overlap with the previous engine's top 10;
#   - for each server, its index build (time, peak RSS), its load (start to listening, peak RSS)
#     and its resident memory after the runs.
#
# SCALE=remix:N or iid:N (e.g. SCALE=remix:1000000): the same on N synthetic passages, written
# once by `cargo bench -p index --bench query -- corpus` (the corpora of the index bench's scale
# rows) into target/bench-peers/remix-N/ with every engine's index over them. The quality columns
# mean nothing on synthetic passages and are left out. Each build and each server's load runs
# under caps: CAP_MINUTES (default 60) and MEM_CAP_GB (default: the machine's memory less 2 GB);
# an engine stopped at a cap, or killed by the kernel, is a row saying so and the bench goes on.
# Disk, a million passages (measured at 20k): 0.55 GB each for the corpus and for pyserini's
# input (removed once indexed), 0.85 GB for pyserini's index, 0.5 GB for masksearch's: about
# 12 GB at the peak for 5M.
#
# Everything it builds lives in target/bench-peers (git-ignored): a virtualenv with pinned
# packages from PyPI, pyserini's Lucene index (Anserini through the JDK), the masksearch index,
# each engine's logs and records (builds.jsonl; servers.jsonl and results.jsonl: the last run's
# loads and rows). Needs a JDK 11+ (JAVA_HOME, default /usr/lib/jvm/java-17-openjdk-amd64) and
# `make setup`. The overlap column compares with benches/peers/previous-top10.jsonl: the top 10
# of the engine before the eager-scored one (tantivy's BooleanQuery, commit ad8b587) on the demo
# passages; it means nothing for other PASSAGES. BENCH_SECONDS (default 10) is how long each
# column runs per server. Run it on an idle machine: absolute numbers drift with load, ratios
# measured in one run are what to compare.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=target/bench-peers
VENV=$OUT/venv
SCALE=${SCALE:-}
CAP_MINUTES=${CAP_MINUTES:-60}
export CAP_MINUTES
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
PEERS=(python3 benches/peers/peers.py)

say "building masksearch (release)"
$CARGO build --release -p masksearch
BIN=${CARGO_TARGET_DIR:-target}/release/masksearch

. benches/peers/passages.sh
if [ -n "$SCALE" ]; then
  QUALITY=(--no-quality)
else
  QUALITY=(--previous benches/peers/previous-top10.jsonl)
fi
# How each build went (kept across runs: an index kept from an earlier run keeps the record of
# its build; the last record of an engine counts), how each server's load and serving went this
# run, and this run's rows.
BUILDS=$OUT/builds.jsonl
SERVERS=$OUT/servers.jsonl
RESULTS=$OUT/results.jsonl
: > "$SERVERS"
: > "$RESULTS"

# Builds engine $1 with the rest as its command, under the caps; BUILT[$1] says it built.
declare -A BUILT=()
build() {
  local name=$1; shift
  if "${PEERS[@]}" supervise "$BUILDS" "$name" build -- "$@" > "$OUT/$name-build.log" 2>&1; then
    BUILT[$name]=1
  fi
}

say "indexing for masksearch"
build masksearch "$BIN" index --passages "$PASSAGES" --out "$OUT/index" --overwrite

if [ ! -d "$OUT/pyserini-index" ] || [ "$PASSAGES" -nt "$OUT/pyserini-index" ]; then
  say "indexing for pyserini (Anserini IndexCollection, as Search-R1's README does)"
  rm -rf "$OUT/pyserini-index" "$OUT/pyserini-index.partial" "$OUT/pyserini-corpus"
  "$PY" benches/peers/peers.py pyserini-corpus "$PASSAGES" "$OUT/pyserini-corpus"
  JAR=$(ls "$VENV"/lib/python3*/site-packages/pyserini/resources/jars/anserini-*-fatjar.jar)
  # Into a .partial folder renamed when whole: an index stopped at a cap is never taken for one.
  build pyserini "$JAVA_HOME/bin/java" -cp "$JAR" io.anserini.index.IndexCollection -collection JsonCollection \
    -input "$OUT/pyserini-corpus" -index "$OUT/pyserini-index.partial" \
    -generator DefaultLuceneDocumentGenerator -threads 2 -storePositions -storeDocvectors -storeRaw
  [ -z "${BUILT[pyserini]:-}" ] || mv "$OUT/pyserini-index.partial" "$OUT/pyserini-index"
  rm -rf "$OUT/pyserini-corpus" "$OUT/pyserini-index.partial"  # the input, and a stopped build
else
  BUILT[pyserini]=1  # built by an earlier run, whose record stays the build's
fi

say "in-process search (no HTTP)"
if [ -n "${BUILT[masksearch]:-}" ]; then
  $CARGO bench -p index --bench query -- query "$PWD/$OUT/index"  # cargo runs benches in the crate folder
fi
if [ -z "$SCALE" ]; then  # at scale it would be a third bm25s build; the servers' loads measure it
  "$PY" benches/peers/peers.py inprocess-bm25s "$PASSAGES"
fi

. benches/servers.sh
START_SECONDS=$((CAP_MINUTES * 60 + 60))  # the supervisor stops a load at the cap first

# Starts server $1 (labelled $2 in the tables) with the rest as its command, under the caps, and
# measures it; its row says why when it did not start (its index did not build, it did not load).
# First, `--built-by ENGINE`: it serves ENGINE's index (not started when that did not build), or
# `--builds-in-load`: it builds its index as it starts. Leaves it running, its process in PID
# and its address in URL (both empty when none was started).
serve_and_measure() {
  local name=$1 label=$2 url=- index= how=()
  shift 2
  PID= URL=
  case $1 in
    --built-by) how=("$1" "$2"); index=$2; shift 2 ;;
    --builds-in-load) how=("$1"); shift ;;
  esac
  if [ -z "$index" ] || [ -n "${BUILT[$index]:-}" ]; then
    if try_start "$name" "${PEERS[@]}" supervise "$SERVERS" "$name" load -- "$@"; then
      url=$URL
    fi
  fi
  "${PEERS[@]}" measure "$RESULTS" "$name" "$label" "$url" "${how[@]}" "${QUALITY[@]}"
}
# As serve_and_measure, then stops it.
bench() {
  serve_and_measure "$@"
  [ -z "$PID" ] || stop "$PID"
}

say "one client, every server in turn"
MS_ARGS=(serve --index "$OUT/index" --port 0)
serve_and_measure masksearch "masksearch serve" --built-by masksearch "$BIN" "${MS_ARGS[@]}"
MS_PID=$PID
# Not a search engine: the stdlib server replaying masksearch's answers, byte for byte, recorded
# from it at start and measured last. Its rate is what this client reaches against a server doing
# nothing but Python's HTTP handling.
CANNED=- CANNED_PID=
if [ -n "$URL" ]; then
  if try_start canned "${PEERS[@]}" supervise "$SERVERS" canned load -- "$PY" benches/peers/peers.py serve canned "$URL"; then
    CANNED=$URL
  fi
  CANNED_PID=$PID
fi
[ -z "$MS_PID" ] || stop "$MS_PID"
bench masksearch-id-contents "masksearch serve --doc-fields id,contents" --built-by masksearch \
  "$BIN" "${MS_ARGS[@]}" --doc-fields id,contents
bench bm25s-stdlib "bm25s 0.3.16 (numba), http.server" --builds-in-load \
  "$PY" benches/peers/peers.py serve bm25s-stdlib "$PASSAGES"
bench bm25s-fastapi "bm25s (numba), FastAPI" --builds-in-load \
  "$PY" benches/peers/peers.py serve bm25s-fastapi "$PASSAGES"
bench pyserini "pyserini 0.22.1, FastAPI (Search-R1's server design)" --built-by pyserini \
  "$PY" benches/peers/peers.py serve pyserini-fastapi "$PASSAGES" --pyserini-index "$OUT/pyserini-index"
"${PEERS[@]}" measure "$RESULTS" canned "client ceiling: masksearch's answers replayed by http.server" \
  "$CANNED" "${QUALITY[@]}"
[ -z "$CANNED_PID" ] || stop "$CANNED_PID"

"${PEERS[@]}" table "$RESULTS" "$BUILDS" "$SERVERS"
