#!/bin/sh
# A STAND-IN for `masksearch evolve --train-command`: it trains NOTHING. It records what a real
# training step would have been given (the merged trajectories' line count and sha256, in
# OUT/stand-in-training.json), then serves the shipped local model as the round's "student"
# with `masksearch llm serve`, whose first stdout line (`listening on http://…`) is the
# address evolve waits for. Tests and offline demos use it to drive the rounds end to end.
#
#   masksearch evolve … --train-command \
#     'scripts/stand-in-train.sh {data} {out} {port} target/release/masksearch assets/models/SmolLM2-135M-Instruct.Q4_1.gguf'
#
# A real command trains on {data} (e.g. `masksearch export sft` then `llamafactory-cli train`)
# and serves the result (e.g. `vllm serve`), printing `listening on http://HOST:PORT` once the
# model answers.
set -eu
data=$1 out=$2 port=$3 masksearch=$4 model=$5
lines=$(wc -l < "$data" | tr -d ' ')
sha=$(sha256sum "$data" | cut -d ' ' -f 1)
printf '{"stand_in": true, "trained": false, "data": "%s", "lines": %s, "sha256": "%s"}\n' \
  "$data" "$lines" "$sha" > "$out/stand-in-training.json"
echo "stand-in training command: $lines trajectories recorded, nothing trained; serving $model"
exec "$masksearch" llm serve --model "$model" --port "$port" --context-size 2048
