"""Checks integrations/verl against verl 0.9.1 as published, by running verl's own code on CPU.

    target/verl-venv/bin/python integrations/verl/check_verl.py [--bin BIN] [--work DIR]
    (or `make verl-check`, which builds that virtualenv first)

Against a live `masksearch serve` (started here on 127.0.0.1, port 0) and parquet made by
`masksearch export rl --curriculum buckets` (from testdata, or the index and ramp.jsonl of a
`make demo` folder given as --work), with a real tokenizer (SmolLM2-135M-Instruct's, read from the
GGUF file in assets/models):

1. compose: run_masksearch_grpo.sh (tags and tools) and run_masksearch_dapo.sh, run for real with
   MASKSEARCH_VERL_DRY_RUN, so verl's Hydra entry point composes each curriculum stage's config
   and `validate_config` passes it; the settings land where verl reads them (verl's config
   dataclasses, Ray's runtime_env check, verl's reward manager factory).
2. dataset: verl's RLHFDataset reads every stage's parquet with the tokenizer, the tool schemas
   of our tool file, and verl's collate_fn.
3. reward: verl's get_custom_reward_fn loads masksearch_reward.py from the composed config and
   scores through the live /reward as the server does directly.
4. tools: verl's tool loader loads masksearch_tools.py (one `web_search` tool), verl's parser
   registry hands out our `masksearch_tags` parser, which extracts the calls of rollout texts; its
   hermes parser reads the tools style's calls.
5. search: the tool answers from the live server with the `<information>` block.
6. rollout: verl's ToolAgentLoop runs whole rollouts in both styles, the model replaced by a
   script of turns (the one part that needs a GPU): our parser, our tool against the live server,
   the chat template's rendering of the tool turn, the response mask; verl's `dapo` reward
   manager scores the rollout through our reward function with its length shaping.

Prints one line per check and `verl-check: N passed, M failed`; exit status 1 on any failure.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GGUF = REPO / "assets/models/SmolLM2-135M-Instruct.Q4_1.gguf"
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
# Inputs: the masksearch binary, an index, RL parquet, a live server, the tokenizer.


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
    """`masksearch serve` on 127.0.0.1, port 0; its first stdout line says where."""

    def __init__(self, binary, index):
        self.process = subprocess.Popen(
            [binary, "serve", "--index", str(index), "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        match = re.match(r"listening on (http://\S+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"masksearch serve said {line!r}: {self.process.stderr.read()[-2000:]}")
        self.url = match.group(1).rstrip("/")

    def post(self, route, body):
        request = urllib.request.Request(
            self.url + route, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def has_route(self, route, body):
        try:
            self.post(route, body)
            return True
        except urllib.error.HTTPError as e:
            if e.code in (404, 405):
                return False
            raise

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def load_tokenizer():
    """SmolLM2-135M-Instruct's tokenizer from the GGUF file. transformers 5.9 reads the GGUF's
    eos id (2, `<|im_end|>`) as `<|im_start|>` and leaves `<|im_end|>` an ordinary token; the
    model's own tokenizer_config says eos = pad = `<|im_end|>`, special, and so is it set here."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(GGUF.parent), gguf_file=GGUF.name)
    tokenizer.add_special_tokens({"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"})
    expect(tokenizer.eos_token_id == 2, f"eos id {tokenizer.eos_token_id}")
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

    def __init__(self, script, rl, url, out, cwd, **env):
        run_env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "PYTHON": sys.executable,
            "DATA_DIR": str(rl),
            "MASKSEARCH_URL": url,
            "BASE_MODEL": str(GGUF.parent),
            "MASKSEARCH_VERL_DRY_RUN": str(out),
            "HYDRA_FULL_ERROR": "1",
            **env,
        }
        for key in ("TRAIN_FILE", "TEST_FILE", "STAGES", "STYLE", "MASKSEARCH_REWARD_PRESET"):
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


def assert_common(config, stage, rl, url, parser):
    rollout = config.actor_rollout_ref.rollout
    expect(config.data.train_files == str(rl / f"{stage}.parquet"), f"train file {config.data.train_files}")
    expect(config.data.val_files == str(rl / "test.parquet"), f"val file {config.data.val_files}")
    expect(rollout.multi_turn.enable is True, "multi_turn off")
    expect(rollout.multi_turn.function_tool_path == str(HERE / "masksearch_tools.py"), "function_tool_path")
    expect(rollout.multi_turn.format == parser, f"format {rollout.multi_turn.format}")
    expect(rollout.agent.default_agent_loop == "tool_agent", "agent loop")
    reward_fn = config.reward.custom_reward_function
    expect(reward_fn.path == str(HERE / "masksearch_reward.py") and reward_fn.name == "compute_score", "reward fn")
    expect(reward_fn.reward_kwargs.url == url, "reward url")
    expect(reward_fn.reward_kwargs.preset == "masksearch-hybrid", "reward preset")
    env_vars = config.ray_kwargs.ray_init.runtime_env.env_vars
    expect(env_vars.MASKSEARCH_URL == url, "MASKSEARCH_URL not handed to the Ray workers")


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


def check_compose(rl, url, tmp):
    stages = stage_names(rl)
    runs = {
        "grpo": DryRun("run_masksearch_grpo.sh", rl, url, tmp / "dry-grpo", tmp),
        "tools": DryRun("run_masksearch_grpo.sh", rl, url, tmp / "dry-tools", tmp, STYLE="tools", STAGES="1"),
        "dapo": DryRun("run_masksearch_dapo.sh", rl, url, tmp / "dry-dapo", tmp),
    }

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
            expect(rollout.multi_turn.format == "masksearch_tags", "rollout dataclass format")
            expect(rollout.multi_turn.max_tool_response_length >= 4096, "tool responses would be cut")
            expected_model = str(GGUF.parent) if i == 0 else f"verl_checkpoints/masksearch-grpo-models/{stages[i - 1]}/global_step_LAST/actor/huggingface"
            expect(config.actor_rollout_ref.model.path == expected_model, f"{stage} starts from {config.actor_rollout_ref.model.path}")
        Compose.configs["grpo"] = configs[stages[0]]
        return f"{len(stages)} stages ({', '.join(stages)}), each from the previous stage's weights"

    @check("compose: run_masksearch_grpo.sh STYLE=tools takes verl's hermes parser")
    def _():
        configs = runs["tools"].configs()
        expect(list(configs) == ["train.mask1"], f"STAGES=1 ran {list(configs)}")
        assert_common(configs["train.mask1"], "train.mask1", rl, url, "hermes")
        Compose.configs["tools"] = configs["train.mask1"]

    @check("compose: run_masksearch_dapo.sh, DAPO's settings where verl reads them")
    def _():
        from verl.trainer.ppo.reward import load_reward_manager

        configs = runs["dapo"].configs()
        expect(list(configs) == stages, f"stages {list(configs)}")
        config = configs[stages[0]]
        assert_common(config, stages[0], rl, url, "masksearch_tags")
        algorithm, _ = verl_objects(config)
        actor = config.actor_rollout_ref.actor
        expect((actor.clip_ratio_low, actor.clip_ratio_high) == (0.2, 0.28), "clip-higher")
        expect(actor.loss_agg_mode == "token-mean", "token-level loss")
        expect(algorithm.filter_groups.enable and algorithm.filter_groups.metric == "acc", "dynamic sampling")
        expect(not actor.use_kl_loss and not algorithm.use_kl_in_reward, "DAPO has no KL term")
        Compose.configs["dapo"] = config
        manager = load_reward_manager(config, load_tokenizer())
        expect(type(manager).__name__ == "DAPORewardManager", f"reward manager {type(manager).__name__}")
        expect(manager.overlong_buffer_cfg.enable and manager.overlong_buffer_cfg.len == 512, "overlong buffer")
        expect(manager.max_resp_len == config.data.max_response_length == 4096, "max_resp_len")
        return "clip 0.2/0.28, filter_groups on acc, token-mean, overlong buffer 512 of 4096"


# ---------------------------------------------------------------------------------------------
# 2-6


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


def check_reward(server, tokenizer):
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


def tools_and_parsers(tokenizer):
    from verl.experimental.agent_loop.tool_parser import ToolParser
    from verl.tools.tool_registry import load_all_tools

    tools = load_all_tools(tool_config_path=None, function_tool_path=str(HERE / "masksearch_tools.py"))
    return tools, ToolParser.get_tool_parser("masksearch_tags", tokenizer), ToolParser.get_tool_parser("hermes", tokenizer)


def check_tools(tokenizer):
    @check("tools: verl's tool loader loads masksearch_tools.py; our registered parser extracts rollout calls")
    def _():
        tools, tags, hermes = tools_and_parsers(tokenizer)
        expect([t.name for t in tools] == ["web_search"], f"tools {[t.name for t in tools]}")
        schema = tools[0].tool_schema.model_dump(exclude_unset=True, exclude_none=True)
        expect(schema["function"]["description"] == student.TOOL_DESCRIPTION, "description")
        expect(type(tags).__name__ == "MaskSearchTagsParser", f"parser {type(tags).__name__}")

        def calls(parser, text):
            ids = tokenizer.encode(text + tokenizer.eos_token, add_special_tokens=False)
            content, found = asyncio.run(parser.extract_tool_calls(ids, [tools[0].tool_schema]))
            return content, [(c.name, json.loads(c.arguments)) for c in found]

        cases = [
            ("<think>two phrasings</think>\n<search>\nAndrew Barto degree\n\nAndrew  Barto <education>\n</search>",
             [("web_search", {"queries": ["Andrew Barto degree", "Andrew Barto education"]})]),
            ("<think>one</think>\n<search> capital of Australia </search> then <answer>x</answer>",
             [("web_search", {"queries": ["capital of Australia"]})]),
            ("<think>done</think>\n<answer> Canberra </answer>", []),
            ("<think>x</think><answer>a</answer><search>b</search>", []),
            ("<think>x</think><search>   </search>", []),
            ("I think it is Canberra.", []),
        ]
        for text, want in cases:
            content, got = calls(tags, text)
            expect(got == want, f"{text!r}: {got} != {want}")
        content, _ = calls(tags, cases[1][0])
        expect(content.endswith("</search>"), f"the turn is cut after its action: {content!r}")
        _, got = calls(hermes, '<tool_call>\n{"name": "web_search", "arguments": {"queries": ["a", "b"]}}\n</tool_call>')
        expect(got == [("web_search", {"queries": ["a", "b"]})], f"hermes {got}")
        return f"schema {json.dumps(schema)}"


def check_search(server, tokenizer):
    @check("search: the tool answers from the live masksearch serve")
    def _():
        from verl.tools.function_tool import normalize_function_tool_return

        tools, _, _ = tools_and_parsers(tokenizer)
        queries = ["capital of Australia", "speed of light"]
        response, reward, _ = normalize_function_tool_return(asyncio.run(tools[0].call({"queries": queries})))
        text = response.text
        expect(text.startswith("<information>Doc 1(Title: ") and text.endswith("</information>"), text[:200])
        expect(text.count("\nDoc ") == 2 and "Doc 4(" not in text, "three documents")
        top = server.post("/retrieve", {"queries": queries[:1], "topk": 1})["result"][0][0]
        top = top.get("document", top)
        title, _, body = top["contents"].partition("\n")
        expect(text.startswith(f"<information>Doc 1(Title: {title}) {body}"), "the first query's top hit first")
        if server.has_route("/observation", {"queries": queries, "topk": 3}):
            served = server.post("/observation", {"queries": queries, "topk": 3})["observation"].strip()
            expect(text == served, "the tool's block differs from /observation's")
            return "through /observation"
        return "through /retrieve (the server has no /observation yet)"


class ScriptedModel:
    """Stands in for vLLM, the part that needs a GPU: answers each generate call with the next
    scripted turn, as token ids ending in the end-of-turn token."""

    def __init__(self, tokenizer, turns):
        self.tokenizer, self.turns, self.prompts = tokenizer, list(turns), []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **_):
        from verl.workers.rollout.replica import TokenOutput

        self.prompts.append(list(prompt_ids))
        text = self.turns.pop(0)
        ids = self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.eos_token_id]
        return TokenOutput(token_ids=ids, num_preempted=0)


def check_rollouts(server, rl, tokenizer):
    row = parquet_rows(rl / "train.mask1.parquet")[0]
    targets = row["reward_model"]["ground_truth"]["target"]
    title = " ".join(row["extra_info"]["passage"].split()[:6])
    query = f"{title} {targets[0]}"
    # the passage restored, as a RAMP answer should be
    answer = f"<think>found it</think>\n<answer> {row['extra_info']['passage']} </answer>"
    styles = {
        "tags": [f"<think>search it</think>\n<search>\n{query}\n{title}\n</search>", answer],
        "tools": ['<think>search it</think>\n<tool_call>\n{"name": "web_search", "arguments": {"queries": '
                  + json.dumps([query, title]) + "}}\n</tool_call>", answer],
    }
    for style, turns in styles.items():
        config_name = "dapo" if style == "tags" else "tools"

        @check(f"rollout ({style} style): verl's ToolAgentLoop with our parser, tool, server and reward")
        def _(style=style, turns=turns, config_name=config_name):
            out, solution = asyncio.run(rollout(Compose.configs[config_name], tokenizer, row, turns))
            expect(out["observation"].startswith("<information>Doc 1(Title: "), out["observation"][:100])
            expect(out["observation"] in out["rendered_tool_turn"], "the tool's block is what the model reads")
            scored = server.post("/reward", {"preset": "masksearch-hybrid", "items": [{
                "data_source": row["data_source"], "solution_str": solution,
                "ground_truth": row["reward_model"]["ground_truth"], "extra_info": row["extra_info"]}]})["scores"][0]
            expect(abs(out["reward"] - scored["score"]) < 1e-9, f"manager {out['reward']} != /reward {scored['score']}")
            # DAPO's group filter reads `acc`, which the managers set from a float score
            expect(out["reward_extra_info"].get("acc") == scored["score"], f"acc {out['reward_extra_info']}")
            shown = re.sub(r"<information>.*?</information>", "<information>…</information>", solution, flags=re.S)
            tool_turn = re.sub(r"<information>.*?</information>", "<information>…</information>", out["rendered_tool_turn"], flags=re.S)
            print(f"  {style}: the tool turn's tokens, decoded: {tool_turn!r}")
            print(f"  {style}: the response the reward function is given: {shown!r}")
            print(f"  {style}: reward {out['reward']} (/reward parts {json.dumps(scored.get('parts'))})")
            if style == "tags":
                print(f"  {style}: rollout tokens vs the chat template's rendering of the conversation: {out['template_diff'] or 'identical'}")
                expect(out["template_diff_but_separator"] is None, f"rollout != template: {out['template_diff_but_separator']}")
            return f"{out['turns']} turns, {out['masked']} tool-turn tokens masked out of {out['length']}"


async def rollout(config, tokenizer, row, turns):
    """One rollout through verl's own ToolAgentLoop, then verl's reward manager on it."""
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from verl import DataProto
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap, ToolListWrap
    from verl.experimental.agent_loop.tool_agent_loop import ToolAgentLoop
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.utils.dataset.rl_dataset import RLHFDataset

    config = OmegaConf.create(OmegaConf.to_container(config))
    tools, _, _ = tools_and_parsers(tokenizer)
    model = ScriptedModel(tokenizer, turns)
    loop = ToolAgentLoop(
        trainer_config=DictConfigWrap(config),
        server_manager=model,
        tokenizer=tokenizer,
        processor=None,
        dataset_cls=RLHFDataset,
        data_config=DictConfigWrap(config.data),
        hf_model_type="llama",
        tools=ToolListWrap(tools),
    )
    dataset_row = {**row, "raw_prompt": row["prompt"], "tools_kwargs": {}}
    output = await loop.run({"temperature": 1.0}, **dataset_row)
    expect(not model.turns, f"{len(model.turns)} scripted turns left: the loop stopped early")
    mask = output.response_mask
    # the tool turn: the response tokens the model did not write
    start = mask.index(0)
    end = start + mask[start:].index(1)
    tool_turn = tokenizer.decode(output.response_ids[start:end])
    observation = tool_turn.split("\n", 1)[1].split(tokenizer.eos_token)[0]

    # verl's reward manager on the rollout, padded as the trainer pads it
    response_length = config.actor_rollout_ref.rollout.response_length
    response = output.response_ids + [tokenizer.pad_token_id] * (response_length - len(output.response_ids))
    attention = [1] * len(output.prompt_ids) + [1] * len(output.response_ids) + [0] * (response_length - len(output.response_ids))
    data = DataProto.from_single_dict({
        "prompts": torch.tensor([output.prompt_ids]),
        "responses": torch.tensor([response]),
        "attention_mask": torch.tensor([attention]),
        "data_source": np.array([row["data_source"]], dtype=object),
        "reward_model": np.array([row["reward_model"]], dtype=object),
        "extra_info": np.array([dict(row["extra_info"])], dtype=object),
    })
    manager = load_reward_manager(config, tokenizer)  # as the v1 trainer's reward workers do
    result = await manager.run_single(data)
    solution = tokenizer.decode(output.response_ids, skip_special_tokens=True)
    # the same conversation as the chat template renders it whole (what SFT on it trains on)
    conversation = list(row["prompt"]) + [
        {"role": "assistant", "content": turns[0]},
        {"role": "tool", "content": observation},
        {"role": "assistant", "content": turns[1]},
    ]
    template = tokenizer.apply_chat_template(conversation, tokenize=False, tools=loop.tool_schemas)
    rollout_text = tokenizer.decode(output.prompt_ids + output.response_ids)
    return {
        "observation": observation,
        "rendered_tool_turn": tool_turn,
        "reward": result["reward_score"],
        "reward_extra_info": result["reward_extra_info"],
        "turns": output.num_turns,
        "masked": end - start,
        "length": len(mask),
        "template_diff": first_difference(rollout_text, template),
        # verl's builder for model_type llama (its default) does not add the "\n" the template
        # writes after an <|im_end|> the model generated; its Qwen builder does
        "template_diff_but_separator": first_difference(
            rollout_text.replace("<|im_end|><|im_start|>", "<|im_end|>\n<|im_start|>") + "\n", template),
    }, solution


def first_difference(a, b):
    """Where two renderings of a conversation part, with a little context; None when equal."""
    if a == b:
        return None
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"at character {i}: rollout {a[max(0, i - 30):i + 20]!r} vs template {b[max(0, i - 30):i + 20]!r}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.environ.get("MASKSEARCH_BIN", str(REPO / "target/debug/masksearch")))
    parser.add_argument("--work", help="a `make demo` folder: its index/ and ramp.jsonl instead of testdata")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="verl-check-"))
    server = None
    try:
        index, rl = prepare_data(args.bin, args.work, tmp)
        server = Server(args.bin, index)
        os.environ["MASKSEARCH_URL"] = server.url
        print(f"data in {rl}, masksearch serve at {server.url} ({time.monotonic() - started:.1f} s)", flush=True)
        tokenizer = load_tokenizer()
        check_compose(rl, server.url, tmp)
        check_dataset(rl, tokenizer)
        check_reward(server, tokenizer)
        check_tools(tokenizer)
        check_search(server, tokenizer)
        check_rollouts(server, rl, tokenizer)
    finally:
        if server:
            server.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = sum(1 for _, ok in RESULTS if not ok)
    print(f"verl-check: {len(RESULTS) - failed} passed, {failed} failed ({time.monotonic() - started:.0f} s)")
    return 1 if failed or not RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
