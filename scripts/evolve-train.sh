#!/usr/bin/env bash
# A real training command for `masksearch evolve --train-command`: the stages of
# `make train-demo` (scripts/lib/sft-stages.sh) on the merged trajectories of the rounds before,
# then the trained model served in its place.
#
#   masksearch evolve … --train-command 'scripts/evolve-train.sh {data} {out} {port}'
#
# 1. `masksearch export sft --style tags --max-turns $MAX_SEARCHES --val-share 0` of DATA into
#    OUT/student/sft
# 2. the check: every example through LLaMA-Factory's own data code, rendered as the runtime does
# 3. LLaMA-Factory (target/train-venv) fine-tunes SmolLM2-135M from the base Hugging Face folder
#    (work/train-demo/base-hf, made once) with integrations/llamafactory/train_demo.yaml
# 4. back to GGUF ($GGUF_TYPE), then `exec masksearch llm serve --port PORT`: its first stdout
#    line, `listening on http://127.0.0.1:PORT`, is what evolve waits for, and it serves until
#    evolve stops the process group.
# Everything before the server prints on stderr (evolve's round-K/train.log); stage times in
# OUT/student/times.tsv. A rerun of the same round (evolve resuming) skips what is done.
#
# Knobs (environment): MASKSEARCH_BIN (default target/debug/masksearch), TRAIN_STEPS (50),
# MAX_SEARCHES (2), GGUF_TYPE (q8_0).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 DATA OUT PORT" >&2; exit 2; }
DATA_IN=$(realpath "$1")
ROUND_DIR=$(realpath "$2")
PORT=$3
# Paths are taken in evolve's folder; the stages run from the repository's root.
[ -z "${MASKSEARCH_BIN:-}" ] || MASKSEARCH_BIN=$(realpath "$MASKSEARCH_BIN")
cd "$(dirname "$0")/.."
OUT=$ROUND_DIR/student
SAY_AS=evolve-train
# shellcheck source=scripts/lib/sft-stages.sh
source scripts/lib/sft-stages.sh
# Only the server may print `listening on` to evolve: the stages' stdout goes to stderr.
exec 3>&1 1>&2

# Nothing reads a validation split here: every example trains (a small round would otherwise
# lose a twentieth of it).
data() { export_sft "$DATA_IN" --val-share 0; }

stage venv venv
stage converter converter
stage base base
stage data data
stage check check
stage train train
stage gguf gguf
say "serving $TRAINED on 127.0.0.1:$PORT"
exec 1>&3 3>&-
exec "$BIN" llm serve --model "$TRAINED" --port "$PORT" --context-size 4096
