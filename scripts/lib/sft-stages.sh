# The stages of a real SFT run on CPU, shared by scripts/train-demo.sh (the demo's before/after)
# and scripts/evolve-train.sh (`masksearch evolve --train-command`): LLaMA-Factory fine-tunes the
# shipped SmolLM2-135M-Instruct on a `masksearch export sft --style tags` folder and the result
# goes back to GGUF for `masksearch llm serve`. Sourced, not run; the caller sets
#   OUT        the run's folder (sft/, ckpt/, train.log, trained.<type>.gguf, times.tsv)
#   SAY_AS     the name progress lines start with
# and may set MASKSEARCH_BIN, BASE_HF, TRAIN_STEPS, MAX_SEARCHES, GGUF_TYPE before sourcing.
#
# Each stage is skipped when its output is already there for the same inputs (a stamp file holds
# the inputs' hashes); `stage NAME FUNCTION` times it into $OUT/times.tsv, wall and CPU seconds.
#   venv       target/train-venv: integrations/llamafactory/requirements-train.txt (all pinned; PyPI)
#   converter  llama.cpp's convert_hf_to_gguf.py + gguf-py from the llama-cpp-python==0.3.36 sdist
#              (PyPI, sha256-checked): the llama-cpp-sys-2 crate vendors convert_hf_to_gguf.py but
#              not the `conversion` package and gguf-py it imports
#   base       the GGUF as a Hugging Face folder (integrations/llamafactory/gguf_to_hf.py), in
#              $BASE_HF (work/train-demo/base-hf: one copy for every run)
#   export_sft TRAJECTORIES [FLAGS]: `masksearch export sft --style tags --max-turns $MAX_SEARCHES`
#              → $OUT/sft
#   check      every example through LLaMA-Factory's own data code: kept, rendered exactly as the
#              runtime renders the same turns, token ids equal to llama.cpp's prompt counts
#   train      llamafactory-cli train integrations/llamafactory/train_demo.yaml, $TRAIN_STEPS steps
#   gguf       the trained folder back to GGUF ($GGUF_TYPE), one answer served by `masksearch llm serve`

: "${OUT:?set OUT before sourcing scripts/lib/sft-stages.sh}"
BIN=${MASKSEARCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/masksearch}
SAY_AS=${SAY_AS:-sft}
VENV=target/train-venv
PY=$VENV/bin/python
LF=integrations/llamafactory
BASE_HF=${BASE_HF:-work/train-demo/base-hf}
TRAIN_STEPS=${TRAIN_STEPS:-50}
MAX_SEARCHES=${MAX_SEARCHES:-2}
GGUF_TYPE=${GGUF_TYPE:-q8_0}
BASE_GGUF=assets/models/SmolLM2-135M-Instruct.Q4_1.gguf
CONVERTER_SPEC=llama-cpp-python==0.3.36
CONVERTER_SDIST=llama_cpp_python-0.3.36.tar.gz
CONVERTER_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
CONVERTER=target/llama-cpp-convert
TRAINED=$OUT/trained.$GGUF_TYPE.gguf
TIMES=$OUT/times.tsv
mkdir -p "$OUT"

say() {
  if [ -t 2 ]; then printf '\033[1m%s:\033[0m %s\n' "$SAY_AS" "$*" >&2; else printf '%s: %s\n' "$SAY_AS" "$*" >&2; fi
}
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
# What the runtime sends (instruction, turns, observations) is the binary's: a stamp with it
# reruns what depends on the student format when the binary changes.
BIN_SHA=$(sha256sum "$BIN" | cut -d' ' -f1)

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

# --- base model ----------------------------------------------------------------------------------
base() {
  local key
  key=$(hash_of "$LF/gguf_to_hf.py" $LF/requirements-train.txt)-$(sha256sum "$BASE_GGUF" | cut -d' ' -f1)
  if fresh "$BASE_HF/.stamp" "$key"; then say "base: up to date"; SKIPPED=1; return; fi
  rm -rf "$BASE_HF"
  "$PY" $LF/gguf_to_hf.py "$BASE_GGUF" "$BASE_HF" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print("base:", d["parameters"], "parameters, vocabulary", d["vocab"], "eos", d["eos"])' >&2
  echo "$key" > "$BASE_HF/.stamp"
}

# --- data ----------------------------------------------------------------------------------------
export_sft() { # TRAJECTORIES [MORE EXPORT FLAGS] → $OUT/sft
  local input=$1
  shift
  rm -rf "$OUT/sft"
  "$BIN" export sft --input "$input" --out "$OUT/sft" --style tags --max-turns "$MAX_SEARCHES" "$@"
}

# --- serving a GGUF for a check --------------------------------------------------------------------
serve() { # GGUF LOGFILE -> the URL in SERVER_URL, the server's pid in SERVER_PID
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

# --- check: LLaMA-Factory's rendering against the runtime's ------------------------------------------
check() {
  serve "$BASE_GGUF" "$OUT/check-serve.log"
  "$PY" $LF/train_demo.py check-template "$OUT/sft" masksearch_tags "$BASE_HF" smollm \
    --cutoff "$(awk '/^cutoff_len:/ {print $2}' $LF/train_demo.yaml)" --serve-url "$SERVER_URL/v1" >&2
  stop_server
}

# --- train ---------------------------------------------------------------------------------------
train() {
  local key
  key=$(hash_of $LF/train_demo.yaml "$OUT/sft/masksearch_tags.train.jsonl" "$BASE_HF/.stamp")-$TRAIN_STEPS
  if fresh "$OUT/ckpt/.stamp" "$key"; then say "train: up to date"; SKIPPED=1; return; fi
  rm -rf "$OUT/ckpt"
  DISABLE_VERSION_CHECK=1 "$VENV/bin/llamafactory-cli" train $LF/train_demo.yaml \
    model_name_or_path="$BASE_HF" dataset_dir="$OUT/sft" output_dir="$OUT/ckpt" \
    max_steps="$TRAIN_STEPS" > "$OUT/train.log" 2>&1 || { tail -30 "$OUT/train.log" >&2; exit 1; }
  grep -o "{'loss'[^}]*}" "$OUT/train.log" | sed -n '1p;$p' | sed 's/^/train: first and last step: /' >&2
  echo "$key" > "$OUT/ckpt/.stamp"
}

# --- gguf ----------------------------------------------------------------------------------------
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
