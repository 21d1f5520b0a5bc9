#!/usr/bin/env bash
# A real SFT run on CPU, end to end: LLaMA-Factory fine-tunes the shipped SmolLM2-135M-Instruct on
# the demo's rule-teacher trajectories (`masksearch export sft --style tags`), the result goes back
# to GGUF, `masksearch llm serve` serves it, and `masksearch eval --methods agent` compares it with
# the base model on held-out RAMP samples and the shipped benchmark slices. Run by
# `make train-demo` (after `make setup` and a build). A 135M model will not become good; the point
# is that our data trains what the runtime expects (closed answers, valid searches).
#
# Stages (each skipped when its output is already there for the same inputs; progress on stderr,
# wall times in work/train-demo/times.tsv, the table in work/train-demo/summary.md). venv,
# converter, base, check, train and gguf are scripts/lib/sft-stages.sh's (shared with
# scripts/evolve-train.sh, evolve's training command); this script adds:
#   data      rule-teacher trajectories made by this binary from the demo's RAMP samples and index
#             (work/, `make demo`; or made here from the demo corpus), exported with
#             `masksearch export sft --style tags --max-turns $MAX_SEARCHES`. Not the demo's own
#             trajectories.jsonl: an older binary may have made it, in an older student format.
#   heldout   $HELDOUT RAMP samples of the validation split (never trained on)
#   eval      base and trained, `--methods agent --mode turns` (the trained model reads information
#             as user turns, as its training data has it), on the held-out samples and the shipped
#             benchmark slices; rerun when the model, the held-out set or the binary changes; then
#             the before/after table
#
# Knobs (environment): MASKSEARCH_BIN, DEMO_DIR (default work), TRAIN_STEPS (50), MAX_SEARCHES (2),
# HELDOUT (20), BENCH_LIMIT (3), GGUF_TYPE (q8_0), EVAL_CONTINUATION=1 (also --mode continuation).
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${DEMO_DIR:-work}
HELDOUT=${HELDOUT:-20}
BENCH_LIMIT=${BENCH_LIMIT:-3}
OUT=work/train-demo
BASE_HF=$OUT/base-hf
SAY_AS=train-demo
# shellcheck source=scripts/lib/sft-stages.sh
source scripts/lib/sft-stages.sh

# --- data ----------------------------------------------------------------------------------------
DATA=$OUT/data
data() {
  local index=$DEMO/index ramp=$DEMO/ramp.jsonl traj=$DATA/trajectories.jsonl key
  mkdir -p "$DATA"
  if [ -d "$index" ] && [ -f "$ramp" ]; then
    say "data: the demo's RAMP samples and index ($DEMO)"
  else
    say "data: no demo outputs in $DEMO; making them from the demo corpus into $DATA"
    index=$DATA/index ramp=$DATA/ramp.jsonl
    [ -f "$DATA/passages.jsonl" ] || "$BIN" ingest assets/corpus/wiki-summaries.jsonl --out "$DATA/passages.jsonl"
    [ -d "$index" ] || "$BIN" index --passages "$DATA/passages.jsonl" --out "$index"
    [ -f "$ramp" ] || "$BIN" ramp --passages "$DATA/passages.jsonl" --out "$ramp" --spans anchors,titles,dates,numbers,names
  fi
  key=$BIN_SHA-$(hash_of "$ramp" "$index"/*.json)-$MAX_SEARCHES
  if fresh "$DATA/.stamp" "$key" && [ -f "$OUT/sft/masksearch_tags.train.jsonl" ]; then
    say "data: up to date"; SKIPPED=1; return
  fi
  "$BIN" trajectories --teacher rule --input "$ramp" --out "$traj" --index "$index" --overwrite
  export_sft "$traj"
  ln -sfn "$(realpath "$index")" "$OUT/index"
  ln -sfn "$(realpath "$ramp")" "$OUT/ramp.jsonl"
  echo "$key" > "$DATA/.stamp"
}

# --- eval ----------------------------------------------------------------------------------------
BENCHES=(testdata/benchmarks/hotpotqa_500.first3.jsonl testdata/benchmarks/2wiki_500.first3.jsonl
         testdata/benchmarks/musique_500.first3.jsonl testdata/benchmarks/bamboogle.first3.jsonl)
[ -f assets/benchmarks/fanout-final-dev.json ] && BENCHES+=(assets/benchmarks/fanout-final-dev.json)
evaluate() { # LABEL GGUF MODE
  local label=$1 model=$2 mode=$3 dir=$OUT/eval-$1-$3 key
  # A model, settings or binary other than last time's: start over. Not with --overwrite alone: the
  # response cache in the folder outlives it and would replay the previous model's answers to
  # the same requests under the same model name.
  key=$(sha256sum "$model" | cut -d' ' -f1)-$HELDOUT-$BENCH_LIMIT-$(hash_of "$OUT/heldout.jsonl")-$BIN_SHA
  if fresh "$dir.stamp" "$key"; then SKIPPED=1; else rm -rf "$dir-ramp" "$dir-bench" "$dir.stamp"; fi
  serve "$model" "$OUT/eval-serve-$label.log"
  "$BIN" eval "ramp=$OUT/heldout.jsonl" --index "$OUT/index" --out "$dir-ramp" \
    --methods agent --mode "$mode" --base-url "$SERVER_URL/v1" --model-name "$label" --concurrency 1 \
    --title "train-demo: $label, $mode"
  "$BIN" eval "${BENCHES[@]}" --limit "$BENCH_LIMIT" --index "$OUT/index" --out "$dir-bench" \
    --methods agent --mode "$mode" --base-url "$SERVER_URL/v1" --model-name "$label" --concurrency 1 \
    --title "train-demo: $label, $mode"
  stop_server
  echo "$key" > "$dir.stamp"
}
heldout() {
  "$PY" $LF/train_demo.py heldout "$OUT/ramp.jsonl" "$OUT/sft/masksearch_tags.train.jsonl" \
    "$OUT/sft/masksearch_tags.val.jsonl" "$HELDOUT" "$OUT/heldout.jsonl"
}

stage venv venv
stage converter converter
stage data data
stage base base
stage check check
stage train train
stage gguf gguf
stage heldout heldout
modes=(turns)
[ "${EVAL_CONTINUATION:-0}" = 1 ] && modes+=(continuation)
runs=()
for mode in "${modes[@]}"; do
  stage "eval base ($mode)" evaluate base "$BASE_GGUF" "$mode"
  stage "eval trained ($mode)" evaluate trained "$TRAINED" "$mode"
  for label in base trained; do
    runs+=("$label ($mode)=$OUT/eval-$label-$mode-ramp" "$label ($mode)=$OUT/eval-$label-$mode-bench")
  done
done
"$PY" $LF/train_demo.py report "$OUT" "$BIN" "${runs[@]}" --times "$TIMES"
say "done: $OUT/summary.md; trained model $TRAINED (serve it: $BIN llm serve --model $TRAINED)"
