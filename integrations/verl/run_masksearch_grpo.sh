#!/usr/bin/env bash
# RL on masksearch data with GRPO in verl 0.9.1 as published on PyPI (`pip install verl==0.9.1`
# plus vllm; no fork, nothing patched). The model searches through the agent loop of its style,
# registered in verl by masksearch_tools.py (masksearch_agent_loop.py: for the tags style its turns
# and the information as user turns, as in SFT; for the tools style verl's tool-calling loop),
# answered by `masksearch serve`; masksearch_reward.py scores each rollout through the server's
# /reward. Settings follow Search-R1's GRPO runs (batch 512, 5 rollouts per prompt, lr 1e-6, KL
# loss 0.001); run_masksearch_dapo.sh is the DAPO variant.
#
# Before running (same machine or reachable from every rollout worker):
#   masksearch export rl --input work/ramp.jsonl --out work/rl --curriculum buckets
#   masksearch serve --index work/index --host 0.0.0.0 --port 8000     # /observation and /reward
# then `BASE_MODEL=<the SFT checkpoint> STYLE=<tags|tools> bash run_masksearch_grpo.sh` (and
# CHAT_TEMPLATE=integrations/verl/chatml.jinja for a SmolLM2 checkpoint: see masksearch_verl.sh).
# With --curriculum buckets each train.mask<k>.parquet is a stage, trained in order of k, each
# from the weights the stage before saved; see masksearch_verl.sh for every input. Anything after
# the script's name is passed to verl (`key=value`, Hydra syntax) and overrides what is here.
set -euo pipefail
SCRIPT=run_masksearch_grpo
source "$(dirname "$0")/masksearch_verl.sh"
preflight

run_stages "masksearch-grpo-$(basename "$BASE_MODEL")" \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=false \
  data.train_batch_size=512 \
  actor_rollout_ref.rollout.n=5 \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=16 \
  actor_rollout_ref.model.enable_gradient_checkpointing=true \
  actor_rollout_ref.model.use_remove_padding=true \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.optim.lr_warmup_steps_ratio=0.285 \
  actor_rollout_ref.actor.ppo_mini_batch_size=256 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8 \
  actor_rollout_ref.actor.use_kl_loss=true \
  actor_rollout_ref.actor.kl_loss_coef=0.001 \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=16 \
  actor_rollout_ref.ref.fsdp_config.param_offload=true \
  "$@"
