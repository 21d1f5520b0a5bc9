# The two commands a new user needs (see README.md):
#   make demo   set up (system packages, pinned offline assets), build, run the pipeline on the demo corpus
#   make test   set up, build, run the whole test suite
#   make ui     the web UI over the demo's outputs (after make demo), at http://127.0.0.1:8080/
# `make lint` is what CI adds on top (rustfmt and clippy, warnings are errors).

CARGO ?= cargo

.PHONY: setup build demo ui test lint bench bench-peers

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace

demo: build
	@bash scripts/demo.sh

ui: build
	target/debug/masksearch ui

test: setup
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: setup
	$(CARGO) bench --workspace

# masksearch serve beside bm25s (numba) and pyserini, one client, the ratio table (see the script).
bench-peers: setup
	@bash benches/peers/bench-peers.sh
