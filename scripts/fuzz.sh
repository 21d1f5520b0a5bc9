#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers (fuzz/: one libFuzzer target per parser, each checking
# the invariant its property test checks) on the stable toolchain:
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     (make fuzz: every target, FUZZ_SECONDS each)
#
# libFuzzer comes from the libfuzzer-sys crate; the coverage it is guided by is LLVM's
# SanitizerCoverage, which stable rustc emits when asked with -C flags (no -Z, no nightly, so
# no AddressSanitizer: the code fuzzed is safe Rust). The flags go to the fuzz targets and the
# crates they link only (--target makes cargo keep RUSTFLAGS from build scripts and proc
# macros, which would not link against libFuzzer's counters; those are the normal build's and
# shared with it, the instrumented crates go to target/TRIPLE/).
# The build is the dev profile's opt-level 1 with debug assertions and overflow checks on,
# sharing the workspace's profile; cargo-fuzz's default, a release build with one codegen
# unit, would run each input faster and take longer to build (not measured here).
#
# Each target runs for SECONDS over a work corpus in target/fuzz/corpus/TARGET, seeded from the
# kept corpus fuzz/corpus/TARGET, which it never writes; crashes land in
# target/fuzz/artifacts/TARGET/ and libFuzzer's log in target/fuzz/TARGET.log (target/ is
# CARGO_TARGET_DIR when set). Keep an input worth keeping (a crash, once fixed) by copying
# it into fuzz/corpus/TARGET: `make test` replays that folder (fuzz/tests/corpus.rs).
# FUZZ_JOBS runs that many targets at once (1 by default: the machine has 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
seconds=${2:-${FUZZ_SECONDS:-300}}
jobs=${FUZZ_JOBS:-1}
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vx fuzz)
if [ "$what" != all ]; then
  grep -qx "$what" <<<"$targets" || { echo "fuzz.sh: no target $what (targets: $(echo $targets))" >&2; exit 2; }
  targets=$what
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
out=${CARGO_TARGET_DIR:-target}
RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing" \
  cargo build -p fuzz --features libfuzzer --target "$triple" \
  $(printf -- '--bin %s ' $targets)

run() {
  local t=$1 work=$out/fuzz/corpus/$1 artifacts=$out/fuzz/artifacts/$1/
  mkdir -p "$work" "$artifacts"
  echo "fuzz.sh: $t for ${seconds}s" >&2
  # -rss_limit_mb: a target whose memory grows is a finding too. The log keeps libFuzzer's
  # figures (execs, cov, ft, corpus) for the README.
  "$out/$triple/debug/$t" "$work" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$artifacts" 2> "$out/fuzz/$t.log" \
    || { echo "fuzz.sh: $t failed, see $out/fuzz/$t.log and $artifacts" >&2; return 1; }
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$out/fuzz/$t.log" | sed "s/^/$t: /"
}
# The corpus targets write each input to a file: in memory they run several times faster.
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export -f run
export out triple seconds
mkdir -p "$out/fuzz"
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'run {}'
