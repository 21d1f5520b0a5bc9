#!/usr/bin/env bash
# `make bench-pisa`: masksearch's impact engine beside PISA — the C++ engine of the scale issue's
# anchors (block-max WAND and MaxScore over compressed lists), through pyterrier-pisa — in-process,
# no HTTP, on the same passages and the same 1,642 shipped questions, topk 3, two threads for
# batches (see benches/peers/pisa.py for how PISA is set up beside our analyzer).
#
# SCALE=remix:N or iid:N: the corpora of bench-peers' scale mode, shared with it
# (target/bench-peers/remix-N/passages.jsonl, written once), with masksearch's index there too; PISA's
# index goes beside them (pisa-index/, kept). Without SCALE, the demo passages. Disk, a million
# passages: 0.55 GB of corpus, 0.5 GB for masksearch's index, 0.35 GB for PISA's. Its virtualenv
# (target/bench-peers/pisa-venv, pinned) is its own: pyterrier-pisa wants numpy 2, bench-peers' bm25s
# numpy 1. BENCH_SECONDS (default 10) per batched column. Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=target/bench-peers
VENV=$OUT/pisa-venv
SCALE=${SCALE:-}
CARGO=${CARGO:-cargo}
mkdir -p "$OUT"

say() { printf '\033[1mbench-pisa:\033[0m %s\n' "$*" >&2; }

# What pip chose for pyterrier-pisa 0.4.9 on 2026-12-07, pinned so that a later run measures the same.
PINS=(pyterrier-pisa==0.4.9 pyterrier==1.1.2 python-terrier==1.0 pyterrier-alpha==0.16.5 numpy==2.4.6
  pandas==3.1.1 scipy==1.17.1 ir_datasets==0.6.3 ir_measures==0.4.3 pytrec_eval-terrier==0.5.11
  statsmodels==0.15.0 formulaic==1.2.2 pyjnius==1.9.0 tbb==2020.3.254 tqdm==4.70.1 more-itertools==11.2.1)
if ! "$VENV/bin/python" -c "import pyterrier_pisa, importlib.metadata as m; assert m.version('pyterrier_pisa') == '0.4.9'" 2>/dev/null; then
  say "building the virtualenv $VENV (pyterrier-pisa 0.4.9)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi

say "building masksearch (release)"
$CARGO build --release -p masksearch
BIN=${CARGO_TARGET_DIR:-target}/release/masksearch

. benches/peers/passages.sh

if [ ! -f "$OUT/index/impacts.bin" ] || [ "$PASSAGES" -nt "$OUT/index/impacts.bin" ]; then
  say "indexing for masksearch"
  "$BIN" index --passages "$PASSAGES" --out "$OUT/index" --overwrite
fi
say "masksearch in-process"
$CARGO bench -p index --bench query -- query "$PWD/$OUT/index"  # cargo runs benches in the crate folder
say "PISA in-process"
"$VENV/bin/python" benches/peers/pisa.py "$PASSAGES" "$OUT/pisa-index"
