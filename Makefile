# The two commands a new user needs (see README.md):
#   make demo   set up (system packages, pinned offline assets), build, run the pipeline on the demo corpus
#   make test   set up, build, run the whole test suite
#   make ui     the web UI over the demo's outputs (after make demo), at http://127.0.0.1:8080/
# `make lint` is what CI adds on top (rustfmt and clippy, warnings are errors).

CARGO ?= cargo
# The debug binary cargo builds (where CARGO_TARGET_DIR says, if set).
BIN := $(or $(CARGO_TARGET_DIR),target)/debug/masksearch

.PHONY: setup build demo ui test lint bench bench-peers bench-pisa bench-dense bench-ingest bench-ray bench-ray-serve verl-check kill-trials soak fuzz

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace

demo: build
	@bash scripts/demo.sh

ui: build
	$(BIN) ui

# The tests, then a short coverage-guided run of every fuzz target (5 s each, after the
# instrumented build; make fuzz runs them for minutes).
test: setup
	$(CARGO) test --workspace
	bash scripts/fuzz.sh all 5

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: setup
	$(CARGO) bench --workspace

# Random kill -9 trials of ingest, index --overwrite, ramp, trajectories and both exports: 50
# per command instead of make test's 3 (crates/masksearch/tests/e2e/kills.rs; the kill points
# are printed; MASKSEARCH_KILL_SEED draws others). Ten minutes or so on 2 cores.
# serve under load for 30 minutes at its capacity, then 5 at twice it, then clients hanging up
# (crates/masksearch/tests/e2e/soak.rs; make test runs 5 s phases). The figures are printed.
soak: setup
	MASKSEARCH_SOAK_SECS=$${MASKSEARCH_SOAK_SECS:-1800} $(CARGO) test -p masksearch --test e2e soak -- --nocapture

kill-trials: setup
	MASKSEARCH_KILL_TRIALS=$${MASKSEARCH_KILL_TRIALS:-50} $(CARGO) test -p masksearch --test e2e kills -- --nocapture --test-threads 1

# Coverage-guided fuzzing (scripts/fuzz.sh): every parser's libFuzzer target, built on the stable
# toolchain with SanitizerCoverage, FUZZ_SECONDS each (300 by default: 35 minutes for the seven,
# after a 3-to-5-minute instrumented build on 2 cores). make test replays the kept corpus
# (fuzz/corpus/) through the same checks, then fuzzes each target for 5 s; FUZZ_TARGET=name runs one.
fuzz: setup
	bash scripts/fuzz.sh $${FUZZ_TARGET:-all} $${FUZZ_SECONDS:-300}

# masksearch serve beside bm25s (numba) and pyserini, one client, the ratio table (see the script).
# SCALE=remix:1000000 (or iid:N): the same on N synthetic passages, each build and load capped.
bench-peers: setup
	@bash benches/peers/bench-peers.sh

# masksearch's impact engine beside PISA (pyterrier-pisa), in-process, same passages and questions;
# SCALE=remix:1000000 for bench-peers' synthetic corpora (see the script).
bench-pisa: setup
	@bash benches/peers/bench-pisa.sh

# masksearch serve with --retriever bm25, dense (scan, graph, reduced graph) and hybrid on the demo
# passages, the same client (see the script; ST_PYTHON=python-with-sentence-transformers adds its
# embedding rate, FAISS_PYTHON=python-with-torch-transformers-faiss Search-R1's faiss servers).
bench-dense: setup
	@bash benches/dense/bench-dense.sh

# The Ray integration on a local cluster: the same jobs as 1, 2 and 4 shards beside the plain
# binary, and Ray's cost per job (benches/ray/bench_ray.py; needs make demo's work/).
bench-ray: build
	.venv/bin/python benches/ray/bench_ray.py --bin $(BIN)

# masksearch serve asked directly and through a Ray Serve deployment in front of it, on a local
# cluster (benches/ray/bench_serve.py; the release build, after make demo). Ray Serve's own
# dependencies go into target/ray-serve-venv, made once from the pinned requirements file.
RAY_SERVE_VENV := target/ray-serve-venv

$(RAY_SERVE_VENV)/installed: benches/ray/requirements-serve.txt
	python3 -m venv $(RAY_SERVE_VENV)
	$(RAY_SERVE_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

bench-ray-serve: setup $(RAY_SERVE_VENV)/installed
	$(CARGO) build --release -p masksearch
	$(RAY_SERVE_VENV)/bin/python benches/ray/bench_serve.py --bin $(or $(CARGO_TARGET_DIR),target)/release/masksearch

# masksearch ingest of a multi-stream dump (the shipped excerpt scaled to 200 MB of XML, 100 pages a
# bzip2 stream) with its streams decoded on every core, on one thread, and behind lbzip2 in a pipe;
# the parse and the decoders alone (see the script; the debug build unless MASKSEARCH_BIN says).
bench-ingest: setup
	@bash benches/ingest/bench-ingest.sh

# verl 0.9.1 from PyPI run on CPU against integrations/verl: its Hydra entry point on both run
# scripts, its dataset, reward and tool loaders and its agent loop worker running our agent loops,
# with a live masksearch serve and llm serve, and LLaMA-Factory's template from setup's .venv
# (integrations/verl/check_verl.py). The virtualenv (torch with its CUDA libraries, ~5.6 GB) is
# made once, from the pinned integrations/verl/requirements-cpu.txt.
VERL_VENV := target/verl-venv

$(VERL_VENV)/installed: integrations/verl/requirements-cpu.txt
	python3 -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

verl-check: build $(VERL_VENV)/installed
	python3 integrations/verl/test_masksearch_student.py --bin $(BIN)
	$(VERL_VENV)/bin/python integrations/verl/check_verl.py --bin $(BIN)

# A real SFT run on CPU: LLaMA-Factory 0.9.5 (torch from PyPI in target/train-venv, ~6 GB, made
# once) fine-tunes SmolLM2-135M on the demo's trajectories; the result is converted to GGUF,
# served by `masksearch llm serve` and evaluated before/after (scripts/train-demo.sh;
# work/train-demo/summary.md). About an hour on 2 cores, most of it training and eval.
.PHONY: train-demo
train-demo: build
	@MASKSEARCH_BIN=$(BIN) bash scripts/train-demo.sh

# One self-evolving round with that real training as evolve's --train-command
# (scripts/evolve-train.sh): round 0's rule teacher on 100 of the demo's RAMP samples (after
# make demo), round 1's student fine-tuned on them, served and rolled out on 100 more, accepted
# by masks recovered. The table in work/train-demo/evolve/rounds.md. About an hour on 2 cores.
.PHONY: evolve-demo
evolve-demo: build
	MASKSEARCH_BIN=$(BIN) $(BIN) evolve --input work/ramp.jsonl \
	  --index work/index --out work/train-demo/evolve --rounds 2 --batch 100 --round0-teacher rule \
	  --accept metric --max-turns 2 --concurrency 1 \
	  --train-command 'scripts/evolve-train.sh {data} {out} {port}'
