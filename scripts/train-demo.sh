#!/usr/bin/env bash
# A real SFT run on CPU, end to end: LLaMA-Factory fine-tunes the shipped SmolLM2-135M-Instruct on
# the demo's rule-teacher trajectories (`masksearch export sft --style tags`), the result goes back
# to GGUF, `masksearch llm serve` serves it, and `masksearch eval --methods agent` compares it with
# the base model on held-out RAMP samples and the shipped benchmark slices. Run by
# `make train-demo` (after `make setup` and a build). A 135M model will not become good; the point
# is that our data trains what the runtime expects (closed answers, valid searches).
#
# Stages (each skipped when its output is already there for the same inputs; progress on stderr,
# wall times in work/train-demo/times.tsv, the table in work/train-demo/summary.md):
#   venv      target/train-venv: integrations/llamafactory/requirements-train.txt (all pinned; PyPI)
#   converter llama.cpp's convert_hf_to_gguf.py + gguf-py from the llama-cpp-python==0.3.36 sdist
#             (PyPI, sha256-checked): the llama-cpp-sys-2 crate vendors convert_hf_to_gguf.py but
#             not the `conversion` package and gguf-py it imports
#   data      trajectories from the demo (work/, `make demo`) or made here from the demo corpus,
#             exported with `masksearch export sft --style tags --max-turns $MAX_SEARCHES`
#   base      the GGUF as a Hugging Face folder (integrations/llamafactory/gguf_to_hf.py)
#   check     every example through LLaMA-Factory's own data code: kept, rendered exactly as the
#             runtime renders the same turns, token ids equal to llama.cpp's prompt counts
#   train     llamafactory-cli train integrations/llamafactory/train_demo.yaml, $TRAIN_STEPS steps
#   gguf      the trained folder back to GGUF ($GGUF_TYPE), served by `masksearch llm serve`
#   eval      base and trained, `--methods agent --mode turns` (the trained model reads information
#             as user turns, as its training data has it), on $HELDOUT held-out RAMP samples and
#             the shipped benchmark slices; then the before/after table
#
# Knobs (environment): MASKSEARCH_BIN, DEMO_DIR (default work), TRAIN_STEPS (50), MAX_SEARCHES (2),
# HELDOUT (20), BENCH_LIMIT (3), GGUF_TYPE (q8_0), EVAL_CONTINUATION=1 (also --mode continuation).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MASKSEARCH_BIN:-target/debug/masksearch}
DEMO=${DEMO_DIR:-work}
OUT=work/train-demo
VENV=target/train-venv
PY=$VENV/bin/python
LF=integrations/llamafactory
TRAIN_STEPS=${TRAIN_STEPS:-50}
MAX_SEARCHES=${MAX_SEARCHES:-2}
HELDOUT=${HELDOUT:-20}
BENCH_LIMIT=${BENCH_LIMIT:-3}
GGUF_TYPE=${GGUF_TYPE:-q8_0}
BASE_GGUF=assets/models/SmolLM2-135M-Instruct.Q4_1.gguf
CONVERTER_SPEC=llama-cpp-python==0.3.36
CONVERTER_SDIST=llama_cpp_python-0.3.36.tar.gz
CONVERTER_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
CONVERTER=target/llama-cpp-convert
mkdir -p "$OUT"
TIMES=$OUT/times.tsv

say() { printf '\033[1mtrain-demo:\033[0m %s\n' "$*" >&2; }
# Children's CPU seconds so far (user + sys) into CPU, from bash's `times` (run in this shell: a
# subshell would start its own count at zero).
cpu_seconds() { times > "$OUT/.times"; CPU=$(tail -1 "$OUT/.times" | sed 's/m/ /g; s/s//g' | awk '{print $1 * 60 + $2 + $3 * 60 + $4}'); }
# stage NAME COMMAND...: runs and times one stage, recording its wall and CPU seconds in times.tsv
# (the machine may be shared: CPU seconds say what the stage itself cost).
stage() {
  local name=$1 start end cpu0 cpu1
  shift
  say "[$name] $*"
  start=$(date +%s.%N); cpu_seconds; cpu0=$CPU
  SKIPPED=0
  "$@"
  end=$(date +%s.%N); cpu_seconds; cpu1=$CPU
  # A stage with nothing to do keeps the time of the run that did it.
  if [ "$SKIPPED" = 1 ] && grep -q "^$name	" "$TIMES" 2>/dev/null; then return; fi
  grep -v "^$name	" "$TIMES" > "$TIMES.tmp" 2>/dev/null || true
  printf '%s\t%.1f\t%.1f\n' "$name" "$(echo "$end - $start" | bc)" "$(echo "$cpu1 - $cpu0" | bc)" >> "$TIMES.tmp"
  mv "$TIMES.tmp" "$TIMES"
  say "[$name] done: $(grep "^$name	" "$TIMES" | awk -F'\t' '{print $2 " s wall, " $3 " s CPU"}')"
}
# fresh STAMP-FILE KEY: true when STAMP-FILE holds KEY (the stage's inputs are unchanged).
fresh() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

[ -x "$BIN" ] || { say "no masksearch binary at $BIN: run make build (or set MASKSEARCH_BIN)"; exit 1; }
[ -f "$BASE_GGUF" ] || { say "no $BASE_GGUF: run make setup"; exit 1; }
for tool in bc python3; do command -v $tool >/dev/null || { say "$tool is needed"; exit 1; }; done

# --- venv ----------------------------------------------------------------------------------------
venv() {
  local key
  key=$(hash_of $LF/requirements-train.txt)
  if fresh "$VENV/.train-demo-stamp" "$key"; then say "venv: up to date"; SKIPPED=1; return; fi
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check -r $LF/requirements-train.txt
  echo "$key" > "$VENV/.train-demo-stamp"
  say "venv: $(du -sh "$VENV" | cut -f1) ($("$PY" -c 'import torch, transformers, llamafactory; print("torch", torch.__version__, "transformers", transformers.__version__, "llamafactory", llamafactory.__version__)'))"
}

# --- converter -------------------------------------------------------------------------------------
converter() {
  if fresh "$CONVERTER/.stamp" "$CONVERTER_SHA"; then say "converter: up to date"; SKIPPED=1; return; fi
  mkdir -p assets/downloads
  local sdist=assets/downloads/$CONVERTER_SDIST
  if ! echo "$CONVERTER_SHA  $sdist" | sha256sum --check --status 2>/dev/null; then
    rm -f "$sdist"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: -d assets/downloads "$CONVERTER_SPEC"
  fi
  echo "$CONVERTER_SHA  $sdist" | sha256sum --check --status || { say "sha256 mismatch for $sdist"; exit 1; }
  rm -rf "$CONVERTER"; mkdir -p "$CONVERTER"
  local top=${CONVERTER_SDIST%.tar.gz}/vendor/llama.cpp
  tar -xzf "$sdist" -C "$CONVERTER" --strip-components=3 \
    "$top/convert_hf_to_gguf.py" "$top/conversion" "$top/gguf-py" "$top/LICENSE"
  echo "$CONVERTER_SHA" > "$CONVERTER/.stamp"
}

# --- data ----------------------------------------------------------------------------------------
DATA=$OUT/data
data() {
  local traj=$DEMO/trajectories.jsonl index=$DEMO/index ramp=$DEMO/ramp.jsonl
  if [ -f "$traj" ] && [ -d "$index" ] && [ -f "$ramp" ]; then
    say "data: the demo's trajectories ($traj)"
  else
    say "data: no demo outputs in $DEMO; making them from the demo corpus into $DATA"
    traj=$DATA/trajectories.jsonl index=$DATA/index ramp=$DATA/ramp.jsonl
    mkdir -p "$DATA"
    [ -f "$DATA/passages.jsonl" ] || "$BIN" ingest assets/corpus/wiki-summaries.jsonl --out "$DATA/passages.jsonl"
    [ -d "$index" ] || "$BIN" index --passages "$DATA/passages.jsonl" --out "$index"
    "$BIN" ramp --passages "$DATA/passages.jsonl" --out "$ramp" --spans anchors,titles,dates,numbers,names
    "$BIN" trajectories --teacher rule --input "$ramp" --out "$traj" --index "$index"
  fi
  "$BIN" export sft --input "$traj" --out "$OUT/sft" --style tags --max-turns "$MAX_SEARCHES"
  ln -sfn "$(realpath "$index")" "$OUT/index"
  ln -sfn "$(realpath "$ramp")" "$OUT/ramp.jsonl"
}

# --- base model ----------------------------------------------------------------------------------
base() {
  local key
  key=$(hash_of "$LF/gguf_to_hf.py" $LF/requirements-train.txt)-$(sha256sum "$BASE_GGUF" | cut -d' ' -f1)
  if fresh "$OUT/base-hf/.stamp" "$key"; then say "base: up to date"; SKIPPED=1; return; fi
  rm -rf "$OUT/base-hf"
  "$PY" $LF/gguf_to_hf.py "$BASE_GGUF" "$OUT/base-hf" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print("base:", d["parameters"], "parameters, vocabulary", d["vocab"], "eos", d["eos"])'
  echo "$key" > "$OUT/base-hf/.stamp"
}

# --- check: LLaMA-Factory's rendering against the runtime's ------------------------------------------
serve() { # GGUF LOGFILE -> prints the URL; the server's pid in SERVER_PID
  "$BIN" llm serve --model "$1" --port 0 --context-size 4096 >"$2" 2>"$2.err" &
  SERVER_PID=$!
  for _ in $(seq 600); do
    grep -q '^listening on ' "$2" 2>/dev/null && break
    kill -0 $SERVER_PID 2>/dev/null || { say "llm serve died: $(tail -3 "$2.err")"; exit 1; }
    sleep 0.1
  done
  SERVER_URL=$(sed -n 's/^listening on //p' "$2")
}
stop_server() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
trap stop_server EXIT

check() {
  serve "$BASE_GGUF" "$OUT/check-serve.log"
  "$PY" $LF/train_demo.py check-template "$OUT/sft" masksearch_tags "$OUT/base-hf" smollm \
    --cutoff "$(awk '/^cutoff_len:/ {print $2}' $LF/train_demo.yaml)" --serve-url "$SERVER_URL/v1"
  stop_server
}

# --- train ---------------------------------------------------------------------------------------
train() {
  local key
  key=$(hash_of $LF/train_demo.yaml "$OUT/sft/masksearch_tags.train.jsonl" "$OUT/base-hf/.stamp")-$TRAIN_STEPS
  if fresh "$OUT/ckpt/.stamp" "$key"; then say "train: up to date"; SKIPPED=1; return; fi
  rm -rf "$OUT/ckpt"
  DISABLE_VERSION_CHECK=1 "$VENV/bin/llamafactory-cli" train $LF/train_demo.yaml \
    model_name_or_path="$OUT/base-hf" dataset_dir="$OUT/sft" output_dir="$OUT/ckpt" \
    max_steps="$TRAIN_STEPS" > "$OUT/train.log" 2>&1 || { tail -30 "$OUT/train.log" >&2; exit 1; }
  grep -o "{'loss'[^}]*}" "$OUT/train.log" | sed -n '1p;$p' | sed 's/^/train: first and last step: /' >&2
  echo "$key" > "$OUT/ckpt/.stamp"
}

# --- gguf ----------------------------------------------------------------------------------------
TRAINED=$OUT/trained.$GGUF_TYPE.gguf
gguf() {
  local key
  key=$(cat "$OUT/ckpt/.stamp")-$GGUF_TYPE-$CONVERTER_SHA
  if [ -f "$TRAINED" ] && fresh "$TRAINED.stamp" "$key"; then say "gguf: up to date"; SKIPPED=1; return; fi
  "$PY" "$CONVERTER/convert_hf_to_gguf.py" "$OUT/ckpt" --outfile "$TRAINED.partial" --outtype "$GGUF_TYPE" \
    > "$OUT/convert.log" 2>&1 || { tail -20 "$OUT/convert.log" >&2; exit 1; }
  "$PY" - "$TRAINED.partial" <<'PY'
import sys
from gguf import GGUFReader
f = GGUFReader(sys.argv[1]).fields
model, pre = f["tokenizer.ggml.model"].contents(), f["tokenizer.ggml.pre"].contents()
print(f"gguf: tokenizer {model}/{pre}, eos id {f['tokenizer.ggml.eos_token_id'].contents()}", file=sys.stderr)
# llama.cpp's converter recognises SmolLM's tokenizer by hashing how it splits a test text; any
# other answer means training and serving would tokenize differently.
sys.exit(0 if (model, pre) == ("gpt2", "smollm") else 1)
PY
  mv "$TRAINED.partial" "$TRAINED"
  echo "$key" > "$TRAINED.stamp"
  serve "$TRAINED" "$OUT/serve-check.log"
  python3 - "$SERVER_URL" <<'PY'
import json, sys, urllib.request
body = {"model": "trained", "max_tokens": 48, "temperature": 0,
        "messages": [{"role": "user", "content": "What is the capital of France?"}]}
req = urllib.request.Request(sys.argv[1] + "/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
reply = json.load(urllib.request.urlopen(req, timeout=600))
print("serve: the trained model answers:", repr(reply["choices"][0]["message"]["content"]), file=sys.stderr)
PY
  stop_server
}

# --- eval ----------------------------------------------------------------------------------------
BENCHES=(testdata/benchmarks/hotpotqa_500.first3.jsonl testdata/benchmarks/2wiki_500.first3.jsonl
         testdata/benchmarks/musique_500.first3.jsonl testdata/benchmarks/bamboogle.first3.jsonl)
[ -f assets/benchmarks/fanout-final-dev.json ] && BENCHES+=(assets/benchmarks/fanout-final-dev.json)
evaluate() { # LABEL GGUF MODE
  local label=$1 model=$2 mode=$3 dir=$OUT/eval-$1-$3 key
  # A model or settings other than last time's: start over. Not with --overwrite alone: the
  # response cache in the folder outlives it and would replay the previous model's answers to
  # the same requests under the same model name.
  key=$(sha256sum "$model" | cut -d' ' -f1)-$HELDOUT-$BENCH_LIMIT-$(hash_of "$OUT/heldout.jsonl")
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
