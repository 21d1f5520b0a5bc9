#!/usr/bin/env bash
# The whole pipeline on the embedded demo corpus (10,033 English Wikipedia lead summaries),
# offline: ingest → index (BM25, and dense vectors from the embedded MiniLM) → search (BM25 and
# hybrid) → serve /retrieve → RAMP samples → trajectories → SFT and RL exports → local model.
# `masksearch ramp stats work/ramp.jsonl` reprints the RAMP statistics of any sample file.
# Run by `make demo` after setup and build; every step is a plain `masksearch` command you can
# rerun by hand. Outputs go to ./work (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MASKSEARCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/masksearch}
mkdir -p work

step() { printf '\n\033[1m$ masksearch %s\033[0m\n' "$*" >&2; "$BIN" "$@"; }

step ingest assets/corpus/wiki-summaries.jsonl --out work/passages.jsonl
step index --passages work/passages.jsonl --out work/index --overwrite
step search "who painted the Mona Lisa" -k 3 --index work/index
# Dense vectors beside BM25 (all-MiniLM-L6-v2, fetched by the set-up; minutes on 2 cores), then a
# question whose answer uses other words: BM25 alone, then hybrid (both lists fused by rank).
step index --out work/index --dense assets/models/all-MiniLM-L6-v2
step search "the biggest animal that ever lived" -k 3 --index work/index
step search "the biggest animal that ever lived" -k 3 --index work/index --retriever hybrid

# The retrieval server, queried the way Search-R1 rollouts query it.
printf '\n\033[1m$ masksearch serve --index work/index --port 0   # then POST /retrieve\033[0m\n' >&2
"$BIN" serve --index work/index --port 0 > work/serve.out 2>work/serve.err &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening work/serve.out 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' work/serve.out)
python3 - "$URL" <<'PY'
import json, sys, urllib.request
body = json.dumps({"queries": ["capital of Australia", "speed of light"], "topk": 2, "return_scores": True}).encode()
req = urllib.request.Request(sys.argv[1] + "/retrieve", body, {"Content-Type": "application/json"})
for query, hits in zip(["capital of Australia", "speed of light"], json.load(urllib.request.urlopen(req))["result"]):
    print(f"{query!r}: " + "; ".join(f"{h['document']['contents'].splitlines()[0]} ({h['score']:.2f})" for h in hits))
PY
kill $SERVER; trap - EXIT

step ramp --passages work/passages.jsonl --out work/ramp.jsonl --spans anchors,titles,dates,numbers,names --overwrite
head -n 1 work/ramp.jsonl | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("\nexample query:", r["query"][:400], "\nmasks:", r["ext"]["masks"])'

step trajectories --teacher rule --input work/ramp.jsonl --out work/trajectories.jsonl --index work/index --overwrite
head -n 1 work/trajectories.jsonl | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("\nexample trajectory:", r["transcript"][:600], "…")'

# Training data: LLaMA-Factory sharegpt for SFT, verl parquet (Search-R1 schema) for RL.
step export sft --input work/trajectories.jsonl --out work/sft --style tags
step export rl --input work/ramp.jsonl --out work/rl --curriculum easy-to-hard

# Evaluation: two questions of each shipped benchmark, answered directly, with one retrieval
# (RAG-PE) and as a prompted search agent (Agent-PE) by the small local model: a plumbing check
# of the report, not a result.
step eval testdata/benchmarks/hotpotqa_500.first3.jsonl testdata/benchmarks/2wiki_500.first3.jsonl \
  testdata/benchmarks/musique_500.first3.jsonl testdata/benchmarks/bamboogle.first3.jsonl \
  testdata/benchmarks/fanout-final-dev.4.json --index work/index --out work/eval \
  --methods direct,rag-pe,agent-pe --max-turns 2 --max-tokens 200 --limit 2 --overwrite

step llm chat "In one sentence, what is Wikipedia?" --max-tokens 48
printf '\ndemo: done; outputs in work/ (passages.jsonl, index/, ramp.jsonl, trajectories.jsonl, sft/, rl/, eval/)\n' >&2
printf 'browse them: make ui   (or %s ui) → http://127.0.0.1:8080/\n' "$BIN" >&2
