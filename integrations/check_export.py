#!/usr/bin/env python3
"""Checks `masksearch export` output the way the training tools will read it.

    check_export.py sft DIR          every sharegpt dataset named in DIR/dataset_info.json
    check_export.py rl FILE.parquet…  verl parquet files (needs pyarrow)

sft: runs LLaMA-Factory's own data code (`llamafactory==0.9.5`, installed without its torch
dependencies by `make setup`; see integrations/llamafactory/lf_data.py) over every example of
every sharegpt dataset: its dataset_info parser, its `SharegptDatasetConverter` (which skips an
example whose turns do not alternate) and its `SupervisedDatasetProcessor` with a chat template
(`smollm` for the tags style, `qwen` for the tools style, whose `function_call` turns go through
LLaMA-Factory's FunctionFormatter and `tools` through its ToolFormatter). The tokenizer is a
plain byte-level one: the rules checked do not depend on a model's vocabulary. A tags-style
example must also render to exactly the ChatML text `masksearch eval --methods agent --mode turns`
sends a ChatML model (no system message, information as user turns). Each line's keys must be
those of line 1 (the `datasets` JSON loader needs one schema).

rl: reads each file with pyarrow and asserts the exact column types Search-R1's preprocessing
(scripts/data_process/nq_search.py, through `datasets`) writes, plus masksearch's extra_info
fields, and the row invariants verl relies on.

Exit status 0 when everything holds; otherwise 1 and a line saying which file, row and rule.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "llamafactory"))

# The chat template each export style is trained with (dataset_info.json names the style by its
# tools column: only the tools style has one).
TEMPLATES = {"tags": "smollm", "tools": "qwen"}


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


# --- sft ---------------------------------------------------------------------------------------


def byte_tokenizer():
    """A byte-level BPE tokenizer without merges, with ChatML's special tokens: every text
    round-trips, no model files needed."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|im_end|>",
                                   additional_special_tokens=["<|im_start|>"])


def check_sft(folder):
    try:
        import lf_data
        lf_data.load_llamafactory()
    except ImportError as e:
        raise Failure(f"LLaMA-Factory's data code cannot be imported ({e}): run `make setup` and use .venv/bin/python")
    info_path = os.path.join(folder, "dataset_info.json")
    with open(info_path, encoding="utf-8") as f:
        info = json.load(f)
    check(isinstance(info, dict), f"{info_path}: not a JSON object")
    checked = 0
    for name, entry in sorted(info.items()):
        if entry.get("formatting") != "sharegpt":
            continue
        style = "tools" if "tools" in entry.get("columns", {}) else "tags"
        template = TEMPLATES[style]
        data = os.path.join(folder, entry.get("file_name", ""))
        check(os.path.isfile(data), f"{info_path}: {name}: {data} does not exist")
        keys, count = None, 0
        try:
            for e in lf_data.encode(folder, name, byte_tokenizer(), template):
                where = f"{data}:{e.line}"
                check(keys is None or set(e.example) == keys, f"{where}: keys differ from line 1")
                keys = set(e.example)
                check(e.messages[-1]["role"] == "assistant", f"{where}: does not end with an answer")
                if style == "tags":
                    text = lf_data.runtime_chatml(lf_data.runtime_turns(e.messages), add_generation_prompt=False)
                    rendered = byte_tokenizer().decode(e.input_ids)
                    check(rendered == text, f"{where}: LLaMA-Factory's {template} template renders "
                                            f"{rendered[:300]!r}…, the runtime sends {text[:300]!r}…")
                count += 1
        except Failure:
            raise
        except ValueError as e:  # an example skipped, dropped or refused, named by lf_data
            raise Failure(str(e))
        check(count > 0, f"{data}: empty")
        print(f"check_export: sft {name}: {count} examples kept and encoded by LLaMA-Factory's own converter "
              f"and {template} template ({data})")
        checked += 1
    check(checked > 0, f"{info_path}: names no sharegpt dataset")


# --- rl ----------------------------------------------------------------------------------------


def expected_types(pa):
    """Search-R1's columns as its preprocessing writes them (struct fields in name order, as
    `datasets` stores them), and the extra_info fields masksearch adds to its {index, split}."""
    search_r1 = {
        "data_source": pa.string(),
        "prompt": pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())])),
        "ability": pa.string(),
        "reward_model": pa.struct([
            ("ground_truth", pa.struct([("target", pa.list_(pa.string()))])),
            ("style", pa.string()),
        ]),
    }
    extra_info = pa.struct([
        ("id", pa.string()),
        ("index", pa.int64()),
        ("mask_num", pa.int64()),
        ("passage", pa.string()),
        ("question", pa.string()),
        ("split", pa.string()),
    ])
    return search_r1, extra_info


def check_rl(paths):
    try:
        import pyarrow.parquet as pq
        import pyarrow as pa
    except ImportError:
        raise Failure("pyarrow is not installed here: run `make setup` and use .venv/bin/python")
    search_r1, extra_info = expected_types(pa)
    for path in paths:
        table = pq.read_table(path)
        schema = table.schema
        check(schema.names == list(search_r1) + ["extra_info"], f"{path}: columns {schema.names}")
        for name, expected in list(search_r1.items()) + [("extra_info", extra_info)]:
            got = schema.field(name).type
            check(got.equals(expected), f"{path}: column {name} is {got}, expected {expected}")
        got_extra = {f.name: f.type for f in schema.field("extra_info").type}
        check(got_extra.get("index") == pa.int64() and got_extra.get("split") == pa.string(),
              f"{path}: extra_info lacks Search-R1's index/split")
        rows = table.to_pylist()
        check(rows, f"{path}: no rows")
        splits = {row["extra_info"]["split"] for row in rows}
        check(len(splits) == 1 and splits <= {"train", "test"}, f"{path}: splits {splits}")
        for i, row in enumerate(rows):
            where = f"{path}: row {i}"
            check(row["data_source"], f"{where}: empty data_source")
            prompt = row["prompt"]
            check(len(prompt) == 1 and prompt[0]["role"] == "user" and prompt[0]["content"],
                  f"{where}: prompt is not one user message")
            extra = row["extra_info"]
            check(extra["question"] and extra["question"].strip() in prompt[0]["content"],
                  f"{where}: the question is not in the prompt")
            target = row["reward_model"]["ground_truth"]["target"]
            check(target and all(isinstance(t, str) and t for t in target), f"{where}: empty target")
            check(row["reward_model"]["style"] == "rule", f"{where}: style is not rule")
            check(extra["index"] == i, f"{where}: index {extra['index']}")
            check((extra["mask_num"] is None) == (extra["passage"] is None),
                  f"{where}: mask_num and passage disagree")
            check(extra["mask_num"] is None or extra["mask_num"] >= 1, f"{where}: mask_num {extra['mask_num']}")
        print(f"check_export: rl {path}: {len(rows)} rows, Search-R1 column types, split {splits.pop()}")


def main(argv):
    if len(argv) < 3 or argv[1] not in ("sft", "rl"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        if argv[1] == "sft":
            for folder in argv[2:]:
                check_sft(folder)
        else:
            check_rl(argv[2:])
    except Failure as e:
        print(f"check_export: FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
