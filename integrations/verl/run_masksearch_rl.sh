#!/usr/bin/env bash
# RL on masksearch data, Search-R1 style: GRPO (or PPO) in verl with the model writing
# <think>/<search>/<answer> text, searches answered by `masksearch serve`'s Search-R1 /retrieve,
# and rewards from integrations/verl/masksearch_reward.py (which asks `masksearch serve`'s /reward).
#
# Run it from a Search-R1 checkout (https://github.com/PeterGriffinJin/Search-R1): its
# `verl.trainer.main_ppo` does the multi-turn <search> rollouts and the `retriever.*` /
# `max_turns` options below. The reward is plugged in through verl's `custom_reward_function`
# hook. Search-R1's own trainer predates that hook: it picks a reward by data_source in
# `_select_rm_score_fn` (verl/trainer/main_ppo.py) and refuses unknown names, so there make that
# function return `masksearch_reward.compute_score` for data sources `ramp` and `qa` (and call it
# with `data_source=` and `extra_info=` as well), or export with `--data-source nq` to keep its
# exact-match reward.
#
# Before running (same machine or reachable from every rollout worker):
#   masksearch export rl --input work/ramp.jsonl --out work/rl --curriculum easy-to-hard
#   masksearch serve --index work/index --host 0.0.0.0 --port 8000     # /retrieve and /reward
#
# The lines marked `# <- change` are the ones a user normally edits; everything after `"$@"` can
# also be overridden on the command line (`key=value`, Hydra syntax).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)                   # the masksearch checkout
DATA_DIR=${DATA_DIR:-$REPO/work/rl}                          # <- change: `export rl --out`
TRAIN_FILE=${TRAIN_FILE:-$DATA_DIR/train.parquet}            # <- change: a train.mask<k>.parquet per stage with --curriculum buckets
TEST_FILE=${TEST_FILE:-$DATA_DIR/test.parquet}
BASE_MODEL=${BASE_MODEL:-Qwen/Qwen2.5-3B-Instruct}           # <- change: the model (or the SFT checkpoint)
MASKSEARCH_URL=${MASKSEARCH_URL:-http://127.0.0.1:8000}      # <- change: where `masksearch serve` listens
N_GPUS=${N_GPUS:-8}                                          # <- change: GPUs on this node
EXPERIMENT=${EXPERIMENT:-masksearch-grpo-$(basename "$BASE_MODEL")}

export MASKSEARCH_REWARD_URL=$MASKSEARCH_URL
export MASKSEARCH_REWARD_PRESET=${MASKSEARCH_REWARD_PRESET:-masksearch-hybrid}  # answer + format, the paper's
export VLLM_ATTENTION_BACKEND=XFORMERS

for f in "$TRAIN_FILE" "$TEST_FILE" "$REPO/integrations/verl/masksearch_reward.py"; do
  [ -f "$f" ] || { echo "run_masksearch_rl: $f is missing (see the commands at the top)" >&2; exit 1; }
done
curl -sf -X POST "$MASKSEARCH_URL/retrieve" -H 'Content-Type: application/json' \
  -d '{"queries": ["test"], "topk": 1, "return_scores": true}' >/dev/null \
  || { echo "run_masksearch_rl: no /retrieve at $MASKSEARCH_URL: start masksearch serve" >&2; exit 1; }

# With --curriculum easy-to-hard the rows are ordered by mask count: keep that order.
SHUFFLE=${SHUFFLE:-false}

PYTHONUNBUFFERED=1 python3 -m verl.trainer.main_ppo \
  data.train_files="$TRAIN_FILE" \
  data.val_files="$TEST_FILE" \
  data.train_batch_size=512 \
  data.val_batch_size=256 \
  data.max_prompt_length=4096 \
  data.max_response_length=500 \
  data.max_start_length=2048 \
  data.max_obs_length=500 \
  data.shuffle_train_dataloader=$SHUFFLE \
  algorithm.adv_estimator=grpo \
  actor_rollout_ref.model.path="$BASE_MODEL" \
  actor_rollout_ref.model.enable_gradient_checkpointing=true \
  actor_rollout_ref.model.use_remove_padding=true \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.optim.lr_warmup_steps_ratio=0.285 \
  actor_rollout_ref.actor.use_kl_loss=true \
  actor_rollout_ref.actor.kl_loss_coef=0.001 \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl \
  actor_rollout_ref.actor.ppo_mini_batch_size=256 \
  actor_rollout_ref.actor.ppo_micro_batch_size=64 \
  actor_rollout_ref.actor.state_masking=true \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n_agent=5 \
  actor_rollout_ref.rollout.temperature=1 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size=128 \
  actor_rollout_ref.ref.log_prob_micro_batch_size=128 \
  actor_rollout_ref.ref.fsdp_config.param_offload=true \
  +custom_reward_function.path="$REPO/integrations/verl/masksearch_reward.py" \
  +custom_reward_function.name=compute_score \
  max_turns=4 \
  retriever.url="$MASKSEARCH_URL/retrieve" \
  retriever.topk=3 \
  trainer.logger="['console']" \
  trainer.n_gpus_per_node="$N_GPUS" \
  trainer.nnodes=1 \
  trainer.save_freq=100 \
  trainer.test_freq=50 \
  trainer.total_epochs=1 \
  trainer.project_name=masksearch \
  trainer.experiment_name="$EXPERIMENT" \
  trainer.default_local_dir="verl_checkpoints/$EXPERIMENT" \
  "$@" 2>&1 | tee "$EXPERIMENT.log"
