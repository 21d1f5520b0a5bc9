#!/usr/bin/env python3
"""Renders the tools-style conversations of tools_conversations.json the way LLaMA-Factory trains
on them with the `smollm` template (integrations/llamafactory/train_demo.yaml), turn by turn.

    render_tools.py write   # (re)writes tools_conversations.smollm.json
    render_tools.py check   # exit 1 if LLaMA-Factory no longer renders what that file holds

Run it with a Python that has llamafactory==0.9.5: the project's .venv (`make setup`; no torch,
see integrations/llamafactory/lf_data.py) or the train-demo virtualenv. Every step is
LLaMA-Factory's own code, through lf_data.encode: its dataset_info parser, its sharegpt
converter, its supervised processor with the `smollm` template (ToolFormatter for `tools`,
FunctionFormatter for `function_call` turns, the user formatter for `observation` turns). The
tokenizer is check_export.py's byte-level one, so decoding gives back the exact text.

Each turn of the output is one (prompt, response) pair as the processor splits it: the prompt
tokens it does not train on, then the response tokens it does. crates/llm holds the local
model's prompts to these texts (src/local/prompt.rs) and reads the responses' calls back
(src/tool_format.rs); the `llm serve` end-to-end test runs `check`.
"""

import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATIONS = os.path.join(HERE, "..", "..", "integrations")
sys.path.insert(0, INTEGRATIONS)
sys.path.insert(0, os.path.join(INTEGRATIONS, "llamafactory"))

import lf_data  # noqa: E402
from check_export import byte_tokenizer  # noqa: E402

INPUT = os.path.join(HERE, "tools_conversations.json")
GOLDEN = os.path.join(HERE, "tools_conversations.smollm.json")
TEMPLATE = "smollm"
IGNORE = -100


def segments(input_ids, labels):
    """The ids cut into alternating runs: not trained on (prompt), trained on (response)."""
    runs, current, trained = [], [], False
    for token, label in zip(input_ids, labels):
        if (label != IGNORE) != trained:
            runs.append(current)
            current, trained = [], not trained
        current.append(token)
    runs.append(current)
    if len(runs) % 2:
        runs.append([])
    return list(zip(runs[0::2], runs[1::2]))


def render():
    with open(INPUT, encoding="utf-8") as f:
        data = json.load(f)
    (name,) = data["dataset_info"]
    tokenizer = byte_tokenizer()
    with tempfile.TemporaryDirectory() as folder:
        info = dict(data["dataset_info"][name], file_name="data.jsonl")
        with open(os.path.join(folder, "dataset_info.json"), "w", encoding="utf-8") as f:
            json.dump({name: info}, f)
        with open(os.path.join(folder, "data.jsonl"), "w", encoding="utf-8") as f:
            for c in data["conversations"]:
                f.write(json.dumps(c["sharegpt"], ensure_ascii=False) + "\n")
        encoded = list(lf_data.encode(folder, name, tokenizer, TEMPLATE))
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    conversations = []
    for c, e in zip(data["conversations"], encoded):
        turns = [{"prompt": decode(p), "response": decode(r)} for p, r in segments(e.input_ids, e.labels)]
        conversations.append({"id": c["id"], "turns": turns})
    return {
        "about": "Written by render_tools.py (`.venv/bin/python testdata/llamafactory/render_tools.py write`) "
                 f"from tools_conversations.json with llamafactory=={lf_data_version()}, template {TEMPLATE}. "
                 "Do not edit by hand.",
        "conversations": conversations,
    }


def lf_data_version():
    from importlib.metadata import version

    return version("llamafactory")


def main(argv):
    if len(argv) != 2 or argv[1] not in ("write", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    rendered = render()
    if argv[1] == "write":
        with open(GOLDEN, "w", encoding="utf-8") as f:
            json.dump(rendered, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"render_tools: wrote {GOLDEN}")
        return 0
    with open(GOLDEN, encoding="utf-8") as f:
        golden = json.load(f)
    if golden["conversations"] != rendered["conversations"]:
        print(f"render_tools: FAIL: LLaMA-Factory's {TEMPLATE} template no longer renders {GOLDEN}; "
              "rerun with `write` and check the diff", file=sys.stderr)
        return 1
    turns = sum(len(c["turns"]) for c in rendered["conversations"])
    print(f"render_tools: {len(rendered['conversations'])} conversations, {turns} turns rendered by "
          f"LLaMA-Factory's {TEMPLATE} template as {os.path.basename(GOLDEN)} holds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
