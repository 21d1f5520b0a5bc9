"""Checks integrations/verl against verl 0.9.1 as published, by running verl's own code on CPU.

    target/verl-venv/bin/python integrations/verl/check_verl.py [--bin BIN] [--work DIR]
    (or `make verl-check`, which builds that virtualenv first)

Against a live `masksearch serve` (started here on 127.0.0.1, port 0) and parquet made by
`masksearch export rl --curriculum buckets` (from testdata, or the index and ramp.jsonl of a
`make demo` folder given as --work), with SmolLM2-135M-Instruct as verl loads a model (its config
and tokenizer, read from the GGUF file in assets/models into a Hugging Face folder; no weights):

1. compose: run_masksearch_grpo.sh (tags and tools) and run_masksearch_dapo.sh, run for real with
   MASKSEARCH_VERL_DRY_RUN, so verl's Hydra entry point composes each curriculum stage's config
   and `validate_config` passes it; the settings land where verl reads them (verl's config
   dataclasses, Ray's runtime_env check, verl's reward manager factory), CHAT_TEMPLATE included.
2. dataset: verl's RLHFDataset reads every stage's parquet with the tokenizer, the tool schemas
   of our tool file, and verl's collate_fn.
3. reward: verl's get_custom_reward_fn loads masksearch_reward.py from the composed config and
   scores through the live /reward as the server does directly.
4. tools: verl's tool loader loads masksearch_tools.py: one `web_search` tool, and both agent
   loops in verl's agent loop registry, resolvable as verl instantiates them.
5. search: the tool answers from the live server with /observation's block.
6. rollouts: verl's AgentLoopWorker (what the trainer's rollout workers run) generates sequences
   for dataset rows with the agent loop the composed config names, the model replaced by a script
   of turns that stops as vLLM does (the one part that needs a GPU). Tags style: the rollout's
   token ids are the chat template's rendering of the conversation with the information and the
   corrective turn as user messages, token for token; the same ids as LLaMA-Factory's for that
   conversation as sharegpt `human`/`gpt` turns (its own converter and `smollm` template, run
   from make setup's .venv); `masksearch llm serve` gives the model the same prompt for the last
   turn; our DAPO reward manager and /reward score the decoded rollout, format 1.0, its overlong
   penalty on the generated tokens (in verl's streaming reward path too). Also a
   turn with no action (the corrective turn, the rollout goes on), a backend that leaves the stop
   string out, the turn budget, and the tools style through verl's own tool-calling loop.

Prints one line per check and `verl-check: N passed, M failed`; exit status 1 on any failure.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GGUF = REPO / "assets/models/SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT_TEMPLATE = HERE / "chatml.jinja"
LF_PYTHON = REPO / ".venv/bin/python"  # make setup's: LLaMA-Factory's data code without torch
sys.path.insert(0, str(HERE))
import masksearch_student as student  # noqa: E402  (standard library only)

RESULTS = []


def check(name):
    """Runs the decorated check at once, records pass or fail with the reason."""

    def run(fn):
        started = time.monotonic()
        try:
            detail = fn()
            RESULTS.append((name, True))
            print(f"PASS {name} ({time.monotonic() - started:.1f} s){': ' + detail if detail else ''}", flush=True)
        except Exception as e:  # noqa: BLE001 - a failed check is reported, the others still run
            RESULTS.append((name, False))
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc()
        return fn

    return run


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


# ---------------------------------------------------------------------------------------------
# Inputs: the masksearch binary, an index, RL parquet, a live server, the model folder.


def masksearch(binary, *args, cwd=None):
    run = subprocess.run([binary, *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"masksearch {' '.join(map(str, args))} failed:\n{run.stderr[-2000:]}")
    return run.stdout


def prepare_data(binary, work, tmp):
    """(index dir, RL parquet dir): from a demo folder's index and ramp.jsonl, or built here from
    testdata's 1,000 wiki-18 passages."""
    if work:
        index, ramp = Path(work) / "index", Path(work) / "ramp.jsonl"
    else:
        passages, index, ramp = tmp / "passages.jsonl", tmp / "index", tmp / "ramp.jsonl"
        masksearch(binary, "ingest", REPO / "testdata/wiki18-sample-1000.jsonl", "--out", passages)
        masksearch(binary, "index", "--passages", passages, "--out", index)
        masksearch(binary, "ramp", "--passages", passages, "--out", ramp, "--spans", "anchors,titles,dates,numbers,names")
    rl = tmp / "rl"
    masksearch(binary, "export", "rl", "--input", ramp, "--out", rl, "--curriculum", "buckets")
    return index, rl


class Server:
    """A masksearch server on 127.0.0.1, port 0 (`serve` or `llm serve`); its first stdout line
    says where."""

    def __init__(self, binary, *args):
        self.process = subprocess.Popen(
            [binary, *map(str, args), "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        match = re.match(r"listening on (http://\S+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"masksearch {args[0]} said {line!r}: {self.process.stderr.read()[-2000:]}")
        self.url = match.group(1).rstrip("/")

    def post(self, route, body, timeout=60):
        request = urllib.request.Request(
            self.url + route, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def model_folder(tmp):
    """SmolLM2-135M-Instruct as a Hugging Face model folder, as verl loads a model: its config and
    tokenizer read from the GGUF file, no weights (nothing here runs the model). transformers 5.9
    reads the GGUF's eos id (2, `<|im_end|>`) as `<|im_start|>` and leaves `<|im_end|>` an
    ordinary token; the model's own tokenizer_config says eos = pad = `<|im_end|>`, special, and
    so is it set here. The folder keeps the GGUF's chat template, which adds a default system
    message."""
    from transformers import AutoConfig, AutoTokenizer

    out = tmp / "SmolLM2-135M-Instruct"
    config = AutoConfig.from_pretrained(str(GGUF.parent), gguf_file=GGUF.name)
    config.architectures = ["LlamaForCausalLM"]
    config.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(str(GGUF.parent), gguf_file=GGUF.name)
    tokenizer.add_special_tokens({"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"})
    tokenizer.save_pretrained(out)
    return out


def load_tokenizer(folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    expect(tokenizer.eos_token_id == 2 and tokenizer.pad_token_id == 2, f"eos {tokenizer.eos_token_id}")
    return tokenizer


def parquet_rows(path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


# ---------------------------------------------------------------------------------------------
# 1. compose


class DryRun:
    """A run script started with MASKSEARCH_VERL_DRY_RUN: verl composes and validates each
    stage's config and writes it to OUT/<stage>.yaml. Started at once, read with `configs()`, so
    the runs share the machine's cores."""

    def __init__(self, script, rl, url, model, out, cwd, **env):
        run_env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "PYTHON": sys.executable,
            "DATA_DIR": str(rl),
            "MASKSEARCH_URL": url,
            "BASE_MODEL": str(model),
            "MASKSEARCH_VERL_DRY_RUN": str(out),
            "HYDRA_FULL_ERROR": "1",
            **env,
        }
        for key in ("TRAIN_FILE", "TEST_FILE", "STAGES", "STYLE", "MASKSEARCH_REWARD_PRESET", "CHAT_TEMPLATE",
                    "MASKSEARCH_EXCLUDE_SOURCE"):
            if key not in env:
                run_env.pop(key, None)
        self.script, self.out = script, Path(out)
        self.process = subprocess.Popen(
            ["bash", str(HERE / script)], cwd=cwd, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def configs(self):
        from omegaconf import OmegaConf

        output, _ = self.process.communicate()
        if self.process.returncode != 0:
            raise AssertionError(f"{self.script} exited {self.process.returncode}:\n{output[-3000:]}")
        expect("All configuration checks passed" in output, f"{self.script}: validate_config did not run")
        return {p.stem: OmegaConf.load(p) for p in sorted(self.out.glob("*.yaml"))}


def stage_names(rl):
    counts = sorted(int(p.name[len("train.mask") : -len(".parquet")]) for p in rl.glob("train.mask*.parquet"))
    return [f"train.mask{k}" for k in counts]


def assert_common(config, stage, rl, url, agent_loop, exclude="0"):
    rollout = config.actor_rollout_ref.rollout
    expect(config.data.train_files == str(rl / f"{stage}.parquet"), f"train file {config.data.train_files}")
    expect(config.data.val_files == str(rl / "test.parquet"), f"val file {config.data.val_files}")
    expect(rollout.multi_turn.enable is True, "multi_turn off")
    expect(rollout.multi_turn.function_tool_path == str(HERE / "masksearch_tools.py"), "function_tool_path")
    expect(rollout.multi_turn.format == "hermes", f"format {rollout.multi_turn.format}")
    expect(rollout.agent.default_agent_loop == agent_loop, f"agent loop {rollout.agent.default_agent_loop}")
    expect((rollout.multi_turn.max_user_turns, rollout.multi_turn.max_assistant_turns) == (4, 5), "turn budget")
    reward_fn = config.reward.custom_reward_function
    expect(reward_fn.path == str(HERE / "masksearch_reward.py") and reward_fn.name == "compute_score", "reward fn")
    expect(reward_fn.reward_kwargs.url == url, "reward url")
    expect(reward_fn.reward_kwargs.preset == "masksearch-hybrid", "reward preset")
    env_vars = config.ray_kwargs.ray_init.runtime_env.env_vars
    expect(env_vars.MASKSEARCH_URL == url, "MASKSEARCH_URL not handed to the Ray workers")
    expect(env_vars.MASKSEARCH_EXCLUDE_SOURCE == exclude, "MASKSEARCH_EXCLUDE_SOURCE not handed to the Ray workers")
    expect(env_vars.MASKSEARCH_MAX_TURN_TOKENS == "500", "MASKSEARCH_MAX_TURN_TOKENS not handed to the Ray workers")


def verl_objects(config):
    """What verl builds from the config before training: its dataclasses and Ray's runtime_env."""
    from omegaconf import OmegaConf
    from ray.runtime_env import RuntimeEnv

    from verl.trainer.main_ppo import get_ppo_ray_runtime_env
    from verl.utils.config import omega_conf_to_dataclass

    algorithm = omega_conf_to_dataclass(config.algorithm)
    rollout = omega_conf_to_dataclass(config.actor_rollout_ref.rollout)
    runtime_env = OmegaConf.merge(get_ppo_ray_runtime_env(config), config.ray_kwargs.ray_init.runtime_env)
    RuntimeEnv(**OmegaConf.to_container(runtime_env))  # Ray's own check: env_vars must be strings
    return algorithm, rollout


class Compose:
    configs = {}


def check_compose(rl, url, model, tmp):
    stages = stage_names(rl)
    tags = {"CHAT_TEMPLATE": str(CHAT_TEMPLATE)}
    runs = {
        "grpo": DryRun("run_masksearch_grpo.sh", rl, url, model, tmp / "dry-grpo", tmp, **tags),
        "tools": DryRun("run_masksearch_grpo.sh", rl, url, model, tmp / "dry-tools", tmp, STYLE="tools", STAGES="1",
                        MASKSEARCH_EXCLUDE_SOURCE="1"),
        "dapo": DryRun("run_masksearch_dapo.sh", rl, url, model, tmp / "dry-dapo", tmp, MASKSEARCH_EXCLUDE_SOURCE="1",
                       **tags),
        "dapo-tools": DryRun("run_masksearch_dapo.sh", rl, url, model, tmp / "dry-dapo-tools", tmp, STYLE="tools",
                             STAGES="1", MASKSEARCH_EXCLUDE_SOURCE="1"),
    }
    template = CHAT_TEMPLATE.read_text(encoding="utf-8").rstrip("\n")

    @check("compose: run_masksearch_grpo.sh (tags style), every curriculum stage, through verl's Hydra entry point")
    def _():
        expect(len(stages) >= 2, f"export rl --curriculum buckets wrote {stages}: no curriculum to run")
        configs = runs["grpo"].configs()
        expect(list(configs) == stages, f"stages {list(configs)} != {stages}")
        for i, stage in enumerate(stages):
            config = configs[stage]
            assert_common(config, stage, rl, url, "masksearch_tags")
            algorithm, rollout = verl_objects(config)
            expect(algorithm.adv_estimator == "grpo", "adv_estimator")
            expect(rollout.agent.default_agent_loop == "masksearch_tags", "rollout dataclass agent loop")
            expect(config.actor_rollout_ref.model.custom_chat_template == template,
                   "CHAT_TEMPLATE did not reach custom_chat_template unchanged")
            expected_model = str(model) if i == 0 else f"verl_checkpoints/masksearch-grpo-{model.name}/{stages[i - 1]}/global_step_LAST/actor/huggingface"
            expect(config.actor_rollout_ref.model.path == expected_model, f"{stage} starts from {config.actor_rollout_ref.model.path}")
        Compose.configs["grpo"] = configs[stages[0]]
        return f"{len(stages)} stages ({', '.join(stages)}), each from the previous stage's weights; CHAT_TEMPLATE in custom_chat_template"

    @check("compose: run_masksearch_grpo.sh STYLE=tools takes the masksearch_tools loop and verl's hermes parser")
    def _():
        configs = runs["tools"].configs()
        expect(list(configs) == ["train.mask1"], f"STAGES=1 ran {list(configs)}")
        config = configs["train.mask1"]
        assert_common(config, "train.mask1", rl, url, "masksearch_tools", exclude="1")
        expect(config.actor_rollout_ref.model.custom_chat_template is None, "a chat template nobody asked for")
        Compose.configs["tools"] = config

    @check("compose: run_masksearch_dapo.sh, DAPO's settings where verl reads them")
    def _():
        from verl.trainer.ppo.reward import load_reward_manager

        configs = runs["dapo"].configs()
        expect(list(configs) == stages, f"stages {list(configs)}")
        config = configs[stages[0]]
        assert_common(config, stages[0], rl, url, "masksearch_tags", exclude="1")
        algorithm, _ = verl_objects(config)
        actor = config.actor_rollout_ref.actor
        expect((actor.clip_ratio_low, actor.clip_ratio_high) == (0.2, 0.28), "clip-higher")
        expect(actor.loss_agg_mode == "token-mean", "token-level loss")
        expect(algorithm.filter_groups.enable and algorithm.filter_groups.metric == "acc", "dynamic sampling")
        expect(not actor.use_kl_loss and not algorithm.use_kl_in_reward, "DAPO has no KL term")
        Compose.configs["dapo"] = config
        manager = load_reward_manager(config, load_tokenizer(model))
        expect(type(manager).__name__ == "MaskSearchDAPORewardManager", f"reward manager {type(manager).__name__}")
        expect(manager.overlong_buffer_cfg is None, "verl's own overlong penalty left on")
        expect(manager.buffer.enable and manager.buffer.len == 512, "overlong buffer")
        expect(manager.max_resp_len == config.data.max_response_length == 4096, "max_resp_len")
        tools = runs["dapo-tools"].configs()["train.mask1"]
        assert_common(tools, "train.mask1", rl, url, "masksearch_tools", exclude="1")
        expect(tools.reward.reward_manager.name == "MaskSearchDAPORewardManager", "STYLE=tools: reward manager")
        Compose.configs["dapo-tools"] = tools
        return "clip 0.2/0.28, filter_groups on acc, token-mean, overlong buffer 512 of 4096 generated tokens; STYLE=tools too"


# ---------------------------------------------------------------------------------------------
# 2-5


def check_dataset(rl, tokenizer):
    @check("dataset: verl's RLHFDataset reads every stage's parquet with the tokenizer and our tool schemas")
    def _():
        from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

        config = Compose.configs["grpo"]
        files = [str(rl / f"{stage}.parquet") for stage in stage_names(rl)] + [str(rl / "test.parquet")]
        for path in files:
            rows = parquet_rows(path)
            dataset = RLHFDataset(path, tokenizer, config.data)
            expect(len(dataset) == len(rows), f"{path}: {len(dataset)} of {len(rows)} rows kept")
            expect([s["function"]["name"] for s in dataset.tool_schemas] == ["web_search"], "tool schemas")
            for i in range(min(3, len(dataset))):
                item = dataset[i]
                expect(list(item["raw_prompt"]) == rows[i]["prompt"], f"{path} row {i}: prompt")
                expect(item["data_source"] == rows[i]["data_source"], "data_source")
                expect(list(item["reward_model"]["ground_truth"]["target"]) == rows[i]["reward_model"]["ground_truth"]["target"], "targets")
                stage = Path(path).stem
                if stage.startswith("train.mask"):
                    expect(item["extra_info"]["mask_num"] == int(stage.removeprefix("train.mask")), f"{path}: mask count")
            batch = collate_fn([dataset[i] for i in range(min(4, len(dataset)))])
            expect(batch["dummy_tensor"].shape[0] == min(4, len(dataset)), "collate")
        return f"{len(files)} files"


def check_reward(server):
    @check("reward: verl's get_custom_reward_fn loads masksearch_reward.py and scores through /reward")
    def _():
        from verl.trainer.ppo.reward import get_custom_reward_fn

        reward_fn = get_custom_reward_fn(Compose.configs["grpo"])
        expect(reward_fn is not None, "no reward function loaded")
        truth = {"target": ["Canberra"]}
        items = [
            "<think>t</think>\n<answer> Canberra </answer>",
            "<think>t</think>\n<answer> Sydney </answer>",
        ]
        scores = [reward_fn(data_source="qa", solution_str=s, ground_truth=truth, extra_info={"num_turns": 2}) for s in items]
        direct = server.post("/reward", {"preset": "masksearch-hybrid", "items": [
            {"data_source": "qa", "solution_str": s, "ground_truth": truth, "extra_info": {}} for s in items]})
        expect(scores == [d["score"] for d in direct["scores"]], f"{scores} != {direct}")
        expect(scores[0] > scores[1], f"right answer {scores[0]} not above wrong {scores[1]}")
        return f"right {scores[0]}, wrong {scores[1]}"


def load_tools():
    from verl.tools.tool_registry import load_all_tools

    return load_all_tools(tool_config_path=None, function_tool_path=str(HERE / "masksearch_tools.py"))


def check_tools(tokenizer):
    @check("tools: verl loads masksearch_tools.py: the web_search tool and both agent loops in verl's registry")
    def _():
        from hydra._internal.utils import _locate

        from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
        from verl.experimental.agent_loop.tool_agent_loop import ToolAgentLoop
        from verl.experimental.agent_loop.tool_parser import ToolParser

        tools = load_tools()
        expect([t.name for t in tools] == ["web_search"], f"tools {[t.name for t in tools]}")
        schema = tools[0].tool_schema.model_dump(exclude_unset=True, exclude_none=True)
        expect(schema["function"]["description"] == student.TOOL_DESCRIPTION, "description")
        targets = {}
        for name in ("masksearch_tags", "masksearch_tools"):
            expect(name in _agent_loop_registry, f"{name} not in verl's agent loop registry: {list(_agent_loop_registry)}")
            target = _agent_loop_registry[name]["_target_"]
            loop_class = _locate(target)  # how hydra.utils.instantiate finds it in the worker
            expect(issubclass(loop_class, ToolAgentLoop), f"{target} is not a ToolAgentLoop")
            targets[name] = target
        hermes = ToolParser.get_tool_parser("hermes", tokenizer)
        text = '<tool_call>\n{"name": "web_search", "arguments": {"queries": ["a", "b"]}}\n</tool_call>'
        ids = tokenizer.encode(text + tokenizer.eos_token, add_special_tokens=False)
        _, calls = asyncio.run(hermes.extract_tool_calls(ids, [tools[0].tool_schema]))
        got = [(c.name, json.loads(c.arguments)) for c in calls]
        expect(got == [("web_search", {"queries": ["a", "b"]})], f"hermes {got}")
        return ", ".join(f"{name} -> {target}" for name, target in targets.items())


def check_search(server):
    @check("search: the tool answers from the live masksearch serve with /observation's block")
    def _():
        from verl.tools.function_tool import normalize_function_tool_return

        (tool,) = load_tools()
        queries = ["capital of Australia", "speed of light"]
        response, _, _ = normalize_function_tool_return(asyncio.run(tool.call({"queries": queries})))
        text = response.text
        expect(text.startswith("<information>Doc 1(Title: ") and text.endswith("</information>"), text[:200])
        expect(text.count("\nDoc ") == 2 and "Doc 4(" not in text, "three documents")
        served = server.post("/observation", {"queries": queries, "topk": 3})["observation"].strip()
        expect(text == served, "the tool's block differs from /observation's")


# ---------------------------------------------------------------------------------------------
# 6. rollouts


class ScriptedModel:
    """Stands in for vLLM, the part that needs a GPU: answers each generate call with the next
    scripted text as token ids, cut as vLLM cuts a generation: at the first token whose text
    completes a stop string (that token kept whole, no end-of-turn token after it), else with the
    end-of-turn token at the end of the text; never more than max_tokens. `stop_in_ids=False`
    plays a backend whose ids leave the stop string out. Every generated token gets log-prob -0.5."""

    LOGPROB = -0.5

    def __init__(self, tokenizer, turns, stop_in_ids=True):
        self.tokenizer, self.turns, self.stop_in_ids = tokenizer, list(turns), stop_in_ids
        self.calls = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **_):
        from verl.workers.rollout.replica import TokenOutput

        self.calls.append((list(prompt_ids), dict(sampling_params)))
        ids = self.tokenizer.encode(self.turns.pop(0), add_special_tokens=False)
        stops = sampling_params.get("stop") or []
        for n in range(1, len(ids) + 1):
            text = self.tokenizer.decode(ids[:n])
            found = [text.index(s) for s in stops if s in text]
            if found:
                ids = ids[:n] if self.stop_in_ids else self.tokenizer.encode(text[: min(found)], add_special_tokens=False)
                break
        else:
            ids = ids + [self.tokenizer.eos_token_id]
        ids = ids[: sampling_params.get("max_tokens")]
        return TokenOutput(token_ids=ids, log_probs=[self.LOGPROB] * len(ids), num_preempted=0, stop_reason="completed")


class Rolled:
    """One row through verl's AgentLoopWorker: the unpadded token ids, mask and log-probs, and
    what the worker put beside them."""

    def __init__(self, output, model):
        batch, extra = output.batch, output.non_tensor_batch
        prompt_len = batch["prompts"].shape[1]
        attention = batch["attention_mask"][0]
        n = int(attention[prompt_len:].sum())
        self.prompt_ids = batch["prompts"][0][attention[:prompt_len] == 1].tolist()
        self.response_ids = batch["responses"][0][:n].tolist()
        self.mask = batch["response_mask"][0][:n].tolist()
        self.logprobs = batch["rollout_log_probs"][0][:n].tolist()
        self.end = extra["masksearch_end"][0] if "masksearch_end" in extra else None
        self.turns = int(extra["__num_turns__"][0])
        self.output, self.model = output, model

    @property
    def ids(self):
        return self.prompt_ids + self.response_ids


class Local:
    """A Ray actor handle (`handle.method.remote(...)`, awaited) for an object of this process,
    made on first use: in the event loop that awaits it, as a Ray actor makes it in its own."""

    def __init__(self, make):
        self.make, self.target = make, None

    def __getattr__(self, name):
        self.target = self.target or self.make()
        return types.SimpleNamespace(remote=getattr(self.target, name))


class Rollouts:
    """verl's AgentLoopWorker for a composed config, on this process (no Ray): it loads the
    tokenizer from the model folder, applies custom_chat_template, loads our tool file and so
    registers our loops; `run` generates one row as the trainer asks it to. `streaming`: with a
    verl RewardLoopWorker of the config, which scores each rollout as it ends, as the trainer's
    reward workers do when no reward model is configured (the reward in `rm_scores`)."""

    def __init__(self, config, streaming=False):
        from omegaconf import OmegaConf

        from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
        from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

        self.config = OmegaConf.create(OmegaConf.to_container(config))
        rewards = [Local(lambda: RewardLoopWorker(self.config))] if streaming else None
        self.worker = AgentLoopWorker(self.config, llm_client=None, reward_loop_worker_handles=rewards)
        self.tokenizer = self.worker.tokenizer

    def row(self, path, index=0, **extra_info):
        from verl.utils.dataset.rl_dataset import RLHFDataset

        item = RLHFDataset(str(path), self.tokenizer, self.config.data)[index]
        item["extra_info"] = {**item["extra_info"], **extra_info}
        return item

    def run(self, item, turns, stop_in_ids=True):
        from verl import DataProto
        from verl.utils.dataset.rl_dataset import collate_fn

        model = ScriptedModel(self.tokenizer, turns, stop_in_ids)
        self.worker.llm_client = model
        batch = DataProto.from_single_dict(collate_fn([item]))
        output = asyncio.run(self.worker.generate_sequences(batch))
        return Rolled(output, model)

    def template_ids(self, conversation):
        from verl.utils.tokenizer.tokenizer import normalize_token_ids

        return normalize_token_ids(self.tokenizer.apply_chat_template(conversation, tokenize=True))

    def score(self, rolled):
        """verl's reward manager of the config on the rollout (as the trainer's reward workers,
        which make it in the event loop they score in)."""
        from verl.trainer.ppo.reward import load_reward_manager

        async def score():
            manager = load_reward_manager(self.config, self.tokenizer)
            return await manager.run_single(rolled.output[0:1])

        return asyncio.run(score())


@contextlib.contextmanager
def environ(name, value):
    """The environment variable `name` set to `value` while the block runs, as the run scripts hand
    it to verl's workers."""
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]


def overlong_budget(config, generated, written):
    """`config` with DAPO's overlong buffer as long as the rollout's written tokens, beginning 8
    tokens before its generated ones end: a penalty of 8 over the buffer on the generated tokens,
    of more than the whole reward on the whole response."""
    from omegaconf import OmegaConf

    config = OmegaConf.create(OmegaConf.to_container(config))
    config.reward.reward_kwargs.max_resp_len = generated - 8 + written
    config.reward.reward_kwargs.overlong_buffer_cfg.len = written
    return config


def streamed_with_budget(config, rolled, path, turns):
    """`turns` rolled out again, the sample's passage excluded, with `config`'s reward manager
    streamed (scoring each rollout as it ends, as the trainer's reward workers do) under
    `overlong_budget` for `rolled`: the same ids, the loop's count of generated tokens equal to the
    mask's, and a penalty of 8 over the buffer. Returns the budgeted config, its Rollouts, the
    reward function's score and the reward the trainer reads."""
    generated = sum(rolled.mask)
    written = len(rolled.mask) - generated
    counted = rolled.output.non_tensor_batch["masksearch_generated"][0]
    expect(counted == generated, f"generated tokens counted {counted}, masked {generated}")
    config = overlong_budget(config, generated, written)
    rollouts = Rollouts(config, streaming=True)
    with environ("MASKSEARCH_EXCLUDE_SOURCE", "1"):
        streamed = rollouts.run(rollouts.row(path), turns)
    expect(streamed.ids == rolled.ids, "not the same rollout")
    acc = float(streamed.output.non_tensor_batch["acc"][0])
    reward = float(streamed.output.batch["rm_scores"][0].sum())
    expect(abs(reward - (acc - 8 / written)) < 1e-6, f"streamed reward {reward}, score {acc}, buffer {written}")
    return config, rollouts, acc, reward


def observation(server, queries, exclude=()):
    body = {"queries": queries, "topk": 3, **({"exclude": list(exclude)} if exclude else {})}
    return server.post("/observation", body)


def expect_masked(rolled, tokenizer):
    """Every generated token has mask 1 and the model's log-prob, every written one mask 0 and 0."""
    expect(len(rolled.mask) == len(rolled.response_ids) == len(rolled.logprobs), "mask/log-prob lengths")
    for i, (m, lp) in enumerate(zip(rolled.mask, rolled.logprobs)):
        expect((m, lp) in ((1, ScriptedModel.LOGPROB), (0, 0.0)), f"token {i}: mask {m} with log-prob {lp}")
    generated = tokenizer.decode([t for t, m in zip(rolled.response_ids, rolled.mask) if m], skip_special_tokens=True)
    return generated


def sharegpt(conversation):
    """The conversation as `masksearch export sft --style tags` writes it."""
    return {"conversations": [{"from": "gpt" if m["role"] == "assistant" else "human", "value": m["content"]}
                              for m in conversation]}


def llamafactory_ids(model, tmp, conversations):
    """LLaMA-Factory's input ids for each conversation as a sharegpt dataset: its own converter
    and supervised processor with its `smollm` template (what train_demo.yaml trains with), run
    in make setup's .venv (llamafactory 0.9.5), with the model's tokenizer.json."""
    expect(LF_PYTHON.exists(), f"{LF_PYTHON} is missing: run make setup (LLaMA-Factory's data code)")
    folder = tmp / "lf"
    folder.mkdir(exist_ok=True)
    tags = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
            "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
    (folder / "dataset_info.json").write_text(json.dumps({"rollouts": {
        "file_name": "rollouts.jsonl", "formatting": "sharegpt", "columns": {"messages": "conversations"}, "tags": tags}}))
    (folder / "rollouts.jsonl").write_text("".join(json.dumps(sharegpt(c)) + "\n" for c in conversations))
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO / 'integrations/llamafactory')!r})\n"
        "import lf_data\n"
        "from transformers import PreTrainedTokenizerFast\n"
        f"t = PreTrainedTokenizerFast(tokenizer_file={str(model / 'tokenizer.json')!r}, eos_token='<|im_end|>', pad_token='<|im_end|>')\n"
        f"for e in lf_data.encode({str(folder)!r}, 'rollouts', t, 'smollm'):\n"
        "    print(json.dumps(e.input_ids))\n"
    )
    run = subprocess.run([str(LF_PYTHON), "-c", script], capture_output=True, text=True)
    expect(run.returncode == 0, f"LLaMA-Factory: {run.stderr[-2000:]}")
    return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("[")]


def served_prompt(llm, rollouts, rolled, conversation):
    """What `masksearch llm serve` (the runtime's local model: llama.cpp, the GGUF's template)
    gives the model for the last turn of `conversation`, against the prompt the rollout gave it.
    Two requests, greedy, 8 tokens: the conversation as messages, and the rollout's own prompt text
    sent as a continued assistant message after the first user message (llama.cpp reads the
    special tokens in it). The same prompt token count and the same continuation: the same prompt."""
    given = rolled.model.calls[-1][0]
    text = rollouts.tokenizer.decode(given)
    head = rollouts.tokenizer.apply_chat_template(conversation[:1], tokenize=False, add_generation_prompt=True)
    expect(text.startswith(head), f"the rollout's prompt does not open with the first user turn: {text[:120]!r}")
    common = {"model": "local", "max_tokens": 8, "temperature": 0, "seed": 1}
    as_messages = llm.post("/v1/chat/completions", {**common, "messages": conversation[:-1]}, timeout=600)
    as_text = llm.post("/v1/chat/completions", {
        **common, "messages": [conversation[0], {"role": "assistant", "content": text[len(head):]}],
        "continue_final_message": True, "add_generation_prompt": False}, timeout=600)
    counts = (as_messages["usage"]["prompt_tokens"], as_text["usage"]["prompt_tokens"], len(given))
    expect(counts[0] == counts[1] == counts[2], f"prompt tokens: llm serve {counts[0]}, continued {counts[1]}, rollout {counts[2]}")
    replies = [r["choices"][0]["message"]["content"] for r in (as_messages, as_text)]
    expect(replies[0] == replies[1], f"greedy continuations differ: {replies}")
    return f"{counts[0]} prompt tokens, greedy reply {replies[0]!r} both ways"


def check_rollouts(server, llm, rl, model, tmp):
    row = parquet_rows(rl / "train.mask1.parquet")[0]
    source = row["extra_info"]["id"]
    targets = row["reward_model"]["ground_truth"]["target"]
    title = " ".join(row["extra_info"]["passage"].split()[:6])
    queries = [f"{title} {targets[0]}", title]
    passage = row["extra_info"]["passage"]
    prompt = list(row["prompt"])
    state = {}

    @check("rollout (tags style): verl's AgentLoopWorker runs masksearch_tags; the rollout is the template's rendering of user turns")
    def _():
        rollouts = Rollouts(Compose.configs["dapo"])
        # the last token of each turn runs past the stop string, as BPE tokens do
        search = "<think>search it</think>\n<search>\n" + "\n".join(queries) + "\n</search>>> and on"
        answer = f"<think>found it</think>\n<answer> {passage} </answer>."
        with environ("MASKSEARCH_EXCLUDE_SOURCE", "1"):
            rolled = rollouts.run(rollouts.row(rl / "train.mask1.parquet"), [search, answer])
        stops = [params.get("stop") for _, params in rolled.model.calls]
        expect(stops == [sorted(student.STOPS)] * 2, f"stop sequences asked for: {stops}")
        shown = observation(server, queries)
        expect(source in shown["ids"], f"the queries do not find the sample's passage {source}: {shown['ids']}")
        excluded = observation(server, queries, exclude=[source])["observation"].strip()
        kept = [search[: search.index("</search>") + 9], answer[: answer.index("</answer>") + 9]]
        conversation = prompt + [{"role": "assistant", "content": kept[0]}, {"role": "user", "content": excluded},
                                 {"role": "assistant", "content": kept[1]}]
        expect(rolled.ids == rollouts.template_ids(conversation),
               f"rollout != template: {first_difference(rollouts.tokenizer.decode(rolled.ids), rollouts.tokenizer.decode(rollouts.template_ids(conversation)))}")
        generated = expect_masked(rolled, rollouts.tokenizer)
        # the tokens that ran past the stop string are dropped, their '>' written
        expect(generated == kept[0][:-1] + kept[1][:-1], f"generated tokens kept: {generated!r}")
        expect(rolled.end == "answered" and rolled.turns == 4, f"end {rolled.end}, {rolled.turns} turns")
        state.update(rollouts=rollouts, rolled=rolled, conversation=conversation, turns=[search, answer])
        return (f"{len(rolled.ids)} tokens = the template's; {sum(rolled.mask)} generated, {len(rolled.mask) - sum(rolled.mask)} "
                f"written (user turn, end of turn, the '>' a token past the stop carried); {source} not shown")

    @check("rollout (tags style): the same token ids as LLaMA-Factory's for the conversation as sharegpt human/gpt turns")
    def _():
        (ids,) = llamafactory_ids(model, tmp, [state["conversation"]])
        expect(ids == state["rolled"].ids, f"LLaMA-Factory {len(ids)} ids vs rollout {len(state['rolled'].ids)}: "
               f"{first_difference(state['rollouts'].tokenizer.decode(state['rolled'].ids), state['rollouts'].tokenizer.decode(ids))}")
        return f"{len(ids)} ids, template smollm"

    @check("rollout (tags style): masksearch llm serve gives the model the prompt the rollout gave it")
    def _():
        return served_prompt(llm, state["rollouts"], state["rolled"], state["conversation"])

    @check("rollout (tags style): our DAPO reward manager and /reward score the decoded rollout, format 1.0")
    def _():
        rollouts, rolled = state["rollouts"], state["rolled"]
        result = rollouts.score(rolled)
        solution = rollouts.tokenizer.decode(rolled.response_ids, skip_special_tokens=True)
        scored = server.post("/reward", {"preset": "masksearch-hybrid", "items": [{
            "data_source": row["data_source"], "solution_str": solution,
            "ground_truth": row["reward_model"]["ground_truth"], "extra_info": row["extra_info"]}]})["scores"][0]
        expect(abs(result["reward_score"] - scored["score"]) < 1e-9, f"manager {result['reward_score']} != /reward {scored['score']}")
        expect(result["reward_extra_info"].get("acc") == scored["score"], f"acc {result['reward_extra_info']}")
        expect(scored["parts"]["format"] == 1.0, f"format {scored['parts']}")
        shown = re.sub(r"<information>.*?</information>", "<information>…</information>", solution, flags=re.S)
        shown = re.sub(re.escape(passage), "…", shown)
        print(f"  tags: the response the reward function is given: {shown!r}")
        return f"reward {result['reward_score']} (parts {json.dumps(scored['parts'])})"

    @check("rollout (tags style): DAPO's overlong penalty counts the generated tokens, not the information, as the reward workers score")
    def _():
        rolled = state["rolled"]
        generated, written = sum(rolled.mask), len(rolled.mask) - sum(rolled.mask)
        config, rollouts, acc, reward = streamed_with_budget(
            Compose.configs["dapo"], rolled, rl / "train.mask1.parquet", state["turns"])
        after = rollouts.score(rolled)["reward_score"]
        expect(abs(after - reward) < 1e-6, f"scored after the rollout {after}, streamed {reward}")
        config.reward.reward_manager.source, config.reward.reward_manager.name = "register", "dapo"
        verls = Rollouts(config).score(rolled)["reward_score"]
        expect(abs(verls - (acc - (written + 8) / written)) < 1e-6, f"verl's dapo manager: {verls}")
        return (f"{generated} generated of {generated + written} tokens, buffer {written}: penalty "
                f"{reward - acc:.4f} streamed and after (verl's dapo manager: {verls - acc:.4f})")

    @check("rollout (tags style): a turn with no action gets the corrective user turn and the rollout goes on")
    def _():
        rollouts = Rollouts(Compose.configs["grpo"])
        unsure = "I am not sure where to look."
        # the backend leaves the stop strings out of the ids: the loop writes the closing tags
        search = f"<think>search it</think>\n<search>\n{queries[0]}\n"
        answer = f"<think>found it</think>\n<answer>\n{passage}\n"
        rolled = rollouts.run(rollouts.row(rl / "train.mask1.parquet"),
                              [unsure, search + "</search>", answer + "</answer>"], stop_in_ids=False)
        corrective = student.INVALID_ACTION_OBSERVATION.strip()
        conversation = prompt + [
            {"role": "assistant", "content": unsure}, {"role": "user", "content": corrective},
            {"role": "assistant", "content": search + "</search>"},
            {"role": "user", "content": observation(server, [queries[0]])["observation"].strip()},
            {"role": "assistant", "content": answer + "</answer>"}]
        expect(rolled.ids == rollouts.template_ids(conversation),
               f"rollout != template: {first_difference(rollouts.tokenizer.decode(rolled.ids), rollouts.tokenizer.decode(rollouts.template_ids(conversation)))}")
        generated = expect_masked(rolled, rollouts.tokenizer)
        expect(generated == unsure + search + answer, f"generated {generated!r}: the closing tags are written, not generated")
        expect(rolled.end == "answered" and rolled.turns == 6, f"end {rolled.end}, {rolled.turns} turns")
        (ids,) = llamafactory_ids(model, tmp, [conversation])
        expect(ids == rolled.ids, "LLaMA-Factory's ids differ")
        return "user turn: Search-R1's correction; the tags closed where the stop cut them; LLaMA-Factory's ids equal"

    @check("rollout (tags style): the turn budget, max_turns turns and a last one, as the runtime")
    def _():
        rollouts = Rollouts(Compose.configs["grpo"])
        search = f"<think>again</think>\n<search> {queries[0]} </search>"
        rolled = rollouts.run(rollouts.row(rl / "train.mask1.parquet"), [search] * 6)
        expect(len(rolled.model.calls) == 5 and len(rolled.model.turns) == 1, f"{len(rolled.model.calls)} generations")
        expect(rolled.end == "max_turns" and rolled.turns == 10, f"end {rolled.end}, {rolled.turns} turns")
        text = rollouts.tokenizer.decode(rolled.response_ids)
        expect(text.count("<|im_start|>user\n<information>") == 4 and text.endswith("</search><|im_end|>\n"),
               "4 searches answered, the fifth turn's not")
        return "5 generations, 4 answered searches, the last turn's search unanswered"

    @check("rollout (tags style): a turn stops at MASKSEARCH_MAX_TURN_TOKENS and is read as cut short, as the runtime")
    def _():
        rollouts = Rollouts(Compose.configs["grpo"])
        rambling = "<think>" + " ".join(["I should think about this some more."] * 20)
        answer = "<think>found it</think>\n<answer> Canberra </answer>"
        with environ("MASKSEARCH_MAX_TURN_TOKENS", "24"):
            rolled = rollouts.run(rollouts.row(rl / "train.mask1.parquet"), [rambling, answer])
        asked = [params["max_tokens"] for _, params in rolled.model.calls]
        expect(asked == [24, 24], f"max_tokens asked: {asked}")
        first = rolled.mask.index(0)
        expect(first == 24, f"the first turn kept {first} generated tokens, not 24")
        text = rollouts.tokenizer.decode(rolled.response_ids)
        corrective = student.INVALID_ACTION_OBSERVATION.strip()
        expect(text.count(corrective) == 1 and rolled.end == "answered", f"end {rolled.end}: {text[:300]!r}")
        default = Rollouts(Compose.configs["grpo"]).run(rollouts.row(rl / "train.mask1.parquet"), [answer])
        cap = default.model.calls[0][1]["max_tokens"]
        expect(cap == student.MAX_TOKENS_PER_TURN, f"unset, a turn may take {cap} tokens")
        return f"turns asked for {asked} tokens; the first cut at 24, then the corrective turn; unset: {cap}"

    @check("rollout (tools style): verl's own tool-calling loop (masksearch_tools) with our tool, the sample's passage excluded")
    def _():
        rollouts = Rollouts(Compose.configs["tools"])
        call = ('<think>search it</think>\n<tool_call>\n{"name": "web_search", "arguments": {"queries": '
                + json.dumps(queries) + "}}\n</tool_call>")
        answer = f"<think>found it</think>\n<answer> {passage} </answer>"
        with environ("MASKSEARCH_EXCLUDE_SOURCE", "1"):
            rolled = rollouts.run(rollouts.row(rl / "train.mask1.parquet"), [call, answer])
        text = rollouts.tokenizer.decode(rolled.response_ids)
        excluded = observation(server, queries, exclude=[source])["observation"].strip()
        expect(f"<|im_start|>tool\n{excluded}<|im_end|>" in text, f"the tool message is not /observation's block without {source}")
        expect(len(rolled.model.calls) == 2 and not rolled.model.turns, "the loop stopped early")
        expect(rolled.end is None, "not verl's own loop")
        asked = [params.get("max_tokens") for _, params in rolled.model.calls]
        expect(asked == [student.MAX_TOKENS_PER_TURN] * 2, f"max_tokens asked: {asked}")
        # With DAPO (STYLE=tools), scored as it ends: the penalty on the generated tokens.
        _, _, acc, reward = streamed_with_budget(
            Compose.configs["dapo-tools"], rolled, rl / "train.mask1.parquet", [call, answer])
        generated = sum(rolled.mask)
        result = rollouts.score(rolled)
        tool_turn = re.sub(r"<information>.*?</information>", "<information>…</information>",
                           text[text.index("<|im_start|>tool"):text.index("</information>") + 40], flags=re.S)
        print(f"  tools: the tool turn's tokens, decoded: {tool_turn!r}")
        return (f"reward {result['reward_score']}; turns of at most {asked[0]} tokens; with DAPO, streamed: "
                f"penalty {reward - acc:.4f} for {generated} generated of {len(rolled.mask)} tokens")


def first_difference(a, b):
    """Where two renderings of a conversation part, with a little context; None when equal."""
    if a == b:
        return None
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"at character {i}: {a[max(0, i - 40):i + 30]!r} vs {b[max(0, i - 40):i + 30]!r}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.environ.get("MASKSEARCH_BIN", str(REPO / "target/debug/masksearch")))
    parser.add_argument("--work", help="a `make demo` folder: its index/ and ramp.jsonl instead of testdata")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="verl-check-"))
    servers = []
    try:
        index, rl = prepare_data(args.bin, args.work, tmp)
        server = Server(args.bin, "serve", "--index", index)
        servers.append(server)
        llm = Server(args.bin, "llm", "serve", "--model", GGUF, "--context-size", "4096")
        servers.append(llm)
        os.environ["MASKSEARCH_URL"] = server.url
        model = model_folder(tmp)
        print(f"data in {rl}, masksearch serve at {server.url}, llm serve at {llm.url}, model folder {model} "
              f"({time.monotonic() - started:.1f} s)", flush=True)
        tokenizer = load_tokenizer(model)
        check_compose(rl, server.url, model, tmp)
        check_dataset(rl, tokenizer)
        check_reward(server)
        check_tools(tokenizer)
        check_search(server)
        check_rollouts(server, llm, rl, model, tmp)
    finally:
        for s in servers:
            s.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = sum(1 for _, ok in RESULTS if not ok)
    print(f"verl-check: {len(RESULTS) - failed} passed, {failed} failed ({time.monotonic() - started:.0f} s)")
    return 1 if failed or not RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
