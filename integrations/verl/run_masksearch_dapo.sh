#!/usr/bin/env bash
# RL on masksearch data with DAPO in verl 0.9.1 as published on PyPI: the same agent loop, search
# tool, agent loops, reward and curriculum stages as run_masksearch_grpo.sh (see there and
# masksearch_verl.sh), with DAPO's four changes to GRPO as verl configures them:
# - clip-higher: decoupled clip range, 0.2 below and 0.28 above (actor.clip_ratio_low/high);
# - dynamic sampling: groups whose rollouts all scored the same carry no advantage and are
#   dropped, prompts are drawn again until the batch is full (algorithm.filter_groups, on the
#   reward function's score, `acc`, before the length penalty);
# - token-level loss: the policy loss averaged over tokens, not sequences (loss_agg_mode);
# - overlong reward shaping: responses in the last OVERLONG_BUFFER tokens of the budget lose up
#   to 1 point of reward, linearly (the `dapo` reward manager's overlong_buffer_cfg), counting
#   the tokens the model generated: MaskSearchDAPORewardManager (masksearch_agent_loop.py) leaves
#   out the information turns, which verl's `dapo` manager counts, so searching costs no reward.
# No KL term (DAPO drops it). The reward is the paper's masksearch-hybrid preset unless
# MASKSEARCH_REWARD_PRESET says otherwise.
#
# Before running, as for run_masksearch_grpo.sh:
#   masksearch export rl --input work/ramp.jsonl --out work/rl --curriculum buckets
#   masksearch serve --index work/index --host 0.0.0.0 --port 8000
set -euo pipefail
SCRIPT=run_masksearch_dapo
source "$(dirname "$0")/masksearch_verl.sh"
OVERLONG_BUFFER=${OVERLONG_BUFFER:-512}
preflight

run_stages "masksearch-dapo-$(basename "$BASE_MODEL")" \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=false \
  algorithm.kl_ctrl.kl_coef=0.0 \
  algorithm.filter_groups.enable=true \
  algorithm.filter_groups.metric=acc \
  data.train_batch_size=512 \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.top_p=1.0 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=16 \
  actor_rollout_ref.model.enable_gradient_checkpointing=true \
  actor_rollout_ref.model.use_remove_padding=true \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.optim.lr_warmup_steps=10 \
  actor_rollout_ref.actor.optim.weight_decay=0.1 \
  actor_rollout_ref.actor.grad_clip=1.0 \
  actor_rollout_ref.actor.ppo_mini_batch_size=64 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8 \
  actor_rollout_ref.actor.use_kl_loss=false \
  actor_rollout_ref.actor.kl_loss_coef=0.0 \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.actor.clip_ratio_low=0.2 \
  actor_rollout_ref.actor.clip_ratio_high=0.28 \
  actor_rollout_ref.actor.clip_ratio_c=10.0 \
  actor_rollout_ref.actor.loss_agg_mode=token-mean \
  reward.reward_manager.source=importlib \
  reward.reward_manager.name=MaskSearchDAPORewardManager \
  reward.reward_manager.module.path="$HERE/masksearch_reward.py" \
  '+reward.reward_kwargs.max_resp_len=${data.max_response_length}' \
  +reward.reward_kwargs.overlong_buffer_cfg.enable=true \
  +reward.reward_kwargs.overlong_buffer_cfg.len="$OVERLONG_BUFFER" \
  +reward.reward_kwargs.overlong_buffer_cfg.penalty_factor=1.0 \
  +reward.reward_kwargs.overlong_buffer_cfg.log=false \
  "$@"
