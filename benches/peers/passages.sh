# Sourced by bench-peers.sh and bench-pisa.sh: the passages both measure on. Reads SCALE, OUT,
# CARGO, BIN and `say`; sets PASSAGES, and OUT to the scale's own folder below it. SCALE=remix:N
# or iid:N writes the synthetic corpus once (the index bench's scale corpora); without it, the
# demo's passages, ingested once.
if [ -n "$SCALE" ]; then
  OUT=$OUT/${SCALE/:/-}
  PASSAGES=$OUT/passages.jsonl
  mkdir -p "$OUT"
  if [ ! -s "$PASSAGES" ]; then
    say "writing the synthetic corpus $SCALE (once)"
    $CARGO bench -p index --bench query -- corpus "$SCALE" "$PWD/$PASSAGES"  # run in the crate folder
  fi
else
  PASSAGES=${PASSAGES:-work/passages.jsonl}
  if [ ! -s "$PASSAGES" ]; then
    mkdir -p "$(dirname "$PASSAGES")"
    "$BIN" ingest assets/corpus/wiki-summaries.jsonl --out "$PASSAGES"
  fi
fi
