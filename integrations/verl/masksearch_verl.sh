# What run_masksearch_grpo.sh and run_masksearch_dapo.sh share (sourced, not run): the inputs,
# the checks before a run, the settings every masksearch run gives verl 0.9.1, and the curriculum
# stages. Each script adds its algorithm's settings and calls run_stages.
#
# Inputs (environment; the lines marked `# <- change` are the ones a user normally edits):
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)                              # the masksearch checkout
DATA_DIR=${DATA_DIR:-$REPO/work/rl}                          # <- change: `export rl --out`
TRAIN_FILE=${TRAIN_FILE:-}                                   # one file instead of the curriculum stages
TEST_FILE=${TEST_FILE:-$DATA_DIR/test.parquet}
STAGES=${STAGES:-}                                           # e.g. "1 2": only these train.mask<k> stages
BASE_MODEL=${BASE_MODEL:-Qwen/Qwen2.5-3B-Instruct}           # <- change: the SFT checkpoint
STYLE=${STYLE:-tags}                                         # <- change: the `export sft --style` it learnt
MASKSEARCH_URL=${MASKSEARCH_URL:-http://127.0.0.1:8000}      # <- change: where `masksearch serve` listens
N_GPUS=${N_GPUS:-8}                                          # <- change: GPUs on this node
MAX_TURNS=${MAX_TURNS:-4}                                    # searches per rollout, then a last turn that answers
CHAT_TEMPLATE=${CHAT_TEMPLATE:-}                             # a Jinja file instead of the model's chat template
MAX_RESPONSE_LENGTH=${MAX_RESPONSE_LENGTH:-4096}              # tokens after the prompt: every turn and tool turn
CHECKPOINTS=${CHECKPOINTS:-verl_checkpoints}
PYTHON=${PYTHON:-python3}
# MASKSEARCH_VERL_DRY_RUN=DIR: compose and validate each stage's config with verl's own entry
# point, write it to DIR/<stage>.yaml, train nothing (dry_run_main_ppo.py).
MASKSEARCH_VERL_DRY_RUN=${MASKSEARCH_VERL_DRY_RUN:-}

export MASKSEARCH_URL
export MASKSEARCH_REWARD_PRESET=${MASKSEARCH_REWARD_PRESET:-masksearch-hybrid}  # the paper's answer + format
export MASKSEARCH_TOPK=${MASKSEARCH_TOPK:-3}
export MASKSEARCH_MAX_TURN_TOKENS=${MASKSEARCH_MAX_TURN_TOKENS:-500}  # a tags turn's tokens, as the runtime's
export MASKSEARCH_EXCLUDE_SOURCE=${MASKSEARCH_EXCLUDE_SOURCE:-0}  # 1: a RAMP sample never sees its own passage

die() { echo "$SCRIPT: $*" >&2; exit 1; }

# The agent loop of the student's style (masksearch_agent_loop.py, registered when verl loads
# masksearch_tools.py): tags turns with the information as user turns, or verl's tool-calling loop.
case $STYLE in
  tags) AGENT_LOOP=masksearch_tags ;;
  tools) AGENT_LOOP=masksearch_tools ;;
  *) die "STYLE is tags or tools, not '$STYLE'" ;;
esac

# The train file of each stage, in order, into STAGE_FILES: TRAIN_FILE alone; else the
# train.mask<k>.parquet files of `export rl --curriculum buckets` by mask count (or those of
# STAGES, in its order); else train.parquet.
STAGE_FILES=()
collect_stages() {
  if [ -n "$TRAIN_FILE" ]; then
    STAGE_FILES=("$TRAIN_FILE")
    return
  fi
  local f k
  local -a counts=()
  for f in "$DATA_DIR"/train.mask*.parquet; do
    k=${f##*/train.mask}
    k=${k%.parquet}
    [[ -f $f && $k =~ ^[0-9]+$ ]] && counts+=("$k")
  done
  if [ ${#counts[@]} -eq 0 ]; then
    STAGE_FILES=("$DATA_DIR/train.parquet")
    return
  fi
  if [ -n "$STAGES" ]; then
    read -r -a counts <<<"$STAGES"
  else
    mapfile -t counts < <(printf '%s\n' "${counts[@]}" | sort -n)
  fi
  for k in "${counts[@]}"; do
    STAGE_FILES+=("$DATA_DIR/train.mask$k.parquet")
  done
}

preflight() {
  collect_stages
  local f
  for f in "$TEST_FILE" "$HERE/masksearch_reward.py" "$HERE/masksearch_tools.py" "${STAGE_FILES[@]}"; do
    [ -f "$f" ] || die "$f is missing (see the commands at the top)"
  done
  curl -sf -X POST "$MASKSEARCH_URL/observation" -H 'Content-Type: application/json' \
    -d '{"queries": ["test"], "topk": 1}' >/dev/null \
    || die "no POST /observation at $MASKSEARCH_URL: start a current masksearch serve"
}

# What every masksearch run sets: our data, the agent loop of the student's style with our search
# tool (hermes reads the tools style's calls; the tags loop reads its own turns), our reward, and
# MASKSEARCH_* handed to the Ray workers that search and score.
COMMON_ARGS=(
  data.val_files="$TEST_FILE"
  data.max_prompt_length=2048
  data.max_response_length="$MAX_RESPONSE_LENGTH"
  data.filter_overlong_prompts=true
  actor_rollout_ref.rollout.name=vllm
  actor_rollout_ref.rollout.multi_turn.enable=true
  actor_rollout_ref.rollout.multi_turn.function_tool_path="$HERE/masksearch_tools.py"
  actor_rollout_ref.rollout.multi_turn.format=hermes
  actor_rollout_ref.rollout.multi_turn.max_user_turns=$MAX_TURNS
  actor_rollout_ref.rollout.multi_turn.max_assistant_turns=$((MAX_TURNS + 1))
  actor_rollout_ref.rollout.multi_turn.max_tool_response_length=8192
  actor_rollout_ref.rollout.agent.default_agent_loop=$AGENT_LOOP
  reward.custom_reward_function.path="$HERE/masksearch_reward.py"
  reward.custom_reward_function.name=compute_score
  +reward.custom_reward_function.reward_kwargs.preset="$MASKSEARCH_REWARD_PRESET"
  +reward.custom_reward_function.reward_kwargs.url="'$MASKSEARCH_URL'"
  +ray_kwargs.ray_init.runtime_env.env_vars.MASKSEARCH_URL="'$MASKSEARCH_URL'"
  +ray_kwargs.ray_init.runtime_env.env_vars.MASKSEARCH_TOPK="'$MASKSEARCH_TOPK'"
  +ray_kwargs.ray_init.runtime_env.env_vars.MASKSEARCH_MAX_TURN_TOKENS="'$MASKSEARCH_MAX_TURN_TOKENS'"
  +ray_kwargs.ray_init.runtime_env.env_vars.MASKSEARCH_EXCLUDE_SOURCE="'$MASKSEARCH_EXCLUDE_SOURCE'"
  "actor_rollout_ref.actor.checkpoint.save_contents=[model,optimizer,extra,hf_model]"
  "actor_rollout_ref.actor.checkpoint.load_contents=[model,optimizer,extra]"
  "trainer.logger=[console]"
  trainer.n_gpus_per_node="$N_GPUS"
  trainer.nnodes=1
  trainer.save_freq=100
  trainer.test_freq=50
  trainer.total_epochs=1
  trainer.project_name=masksearch
)

# CHAT_TEMPLATE: verl's custom_chat_template, which replaces the tokenizer's template wherever
# rollouts are rendered; for a model whose own template differs from the one SFT trained with
# (SmolLM2's adds a default system message that LLaMA-Factory's smollm template and masksearch
# llm serve leave out: CHAT_TEMPLATE=integrations/verl/chatml.jinja). Passed as a Hydra quoted
# string, its quotes escaped (so a template must not end a string with a backslash).
if [ -n "$CHAT_TEMPLATE" ]; then
  [ -f "$CHAT_TEMPLATE" ] || die "CHAT_TEMPLATE $CHAT_TEMPLATE is missing"
  template=$(<"$CHAT_TEMPLATE")
  COMMON_ARGS+=("actor_rollout_ref.model.custom_chat_template='${template//\'/\\\'}'")
fi

# run_stages EXPERIMENT ARGS… (after preflight): one verl run per stage, each from the weights the previous stage
# saved (its last checkpoint's Hugging Face copy), in CHECKPOINTS/EXPERIMENT/<stage>; a stage
# interrupted and run again resumes from its own last checkpoint (verl's resume_mode=auto).
run_stages() {
  local experiment=$1
  shift
  local model=$BASE_MODEL file stage dir step
  local -a trainer=("$PYTHON" -m verl.trainer.main_ppo)
  [ -n "$MASKSEARCH_VERL_DRY_RUN" ] && mkdir -p "$MASKSEARCH_VERL_DRY_RUN"
  for file in "${STAGE_FILES[@]}"; do
    stage=$(basename "$file" .parquet)
    dir=$CHECKPOINTS/$experiment/$stage
    [ -n "$MASKSEARCH_VERL_DRY_RUN" ] \
      && trainer=("$PYTHON" "$HERE/dry_run_main_ppo.py" "$MASKSEARCH_VERL_DRY_RUN/$stage.yaml")
    echo "$SCRIPT: stage $stage from $model" >&2
    PYTHONUNBUFFERED=1 "${trainer[@]}" \
      data.train_files="$file" \
      actor_rollout_ref.model.path="$model" \
      trainer.experiment_name="$experiment-$stage" \
      trainer.default_local_dir="$dir" \
      "${COMMON_ARGS[@]}" "$@" 2>&1 | tee "$experiment-$stage.log"
    if [ -n "$MASKSEARCH_VERL_DRY_RUN" ]; then
      model=$dir/global_step_LAST/actor/huggingface
      continue
    fi
    step=$(cat "$dir/latest_checkpointed_iteration.txt" 2>/dev/null) || die "stage $stage saved no checkpoint in $dir"
    model=$dir/global_step_$step/actor/huggingface
    [ -f "$model/config.json" ] || die "stage $stage left no Hugging Face model in $model"
  done
}
