#!/usr/bin/env python3
"""Checks `masksearch export` output the way the training tools will read it.

    check_export.py sft DIR          every sharegpt dataset named in DIR/dataset_info.json
    check_export.py rl FILE.parquet…  verl parquet files (needs pyarrow)

sft: LLaMA-Factory's rules, reimplemented from its source (it is not installed: it pulls in
torch): the dataset_info entry (`formatting: sharegpt`, columns, tags, an existing file); per
example the alignment of `SharegptDatasetConverter` in src/llamafactory/data/converter.py
(a leading system turn lifted out; user/observation tags at odd positions, assistant/function
tags at even ones, 1-based; an even count), the `function_call` parse of `FunctionFormatter` in
src/llamafactory/data/formatter.py (the thought cut off with either thought-word convention,
`<think>`…`</think>` or `<think>\\n`…`\\n</think>\\n\\n`, then JSON with `name` and
`arguments`), `tools` as a JSON list of `{name, description, parameters}`, and one key set for
every line (the `datasets` JSON loader needs one schema).

rl: reads each file with pyarrow and asserts the exact column types Search-R1's preprocessing
(scripts/data_process/nq_search.py, through `datasets`) writes, plus masksearch's extra_info
fields, and the row invariants verl relies on.

Exit status 0 when everything holds; otherwise 1 and a line saying which file, row and rule.
Standard library only, except pyarrow for `rl`.
"""

import json
import os
import re
import sys

THOUGHT_WORDS = [("<think>", "</think>"), ("<think>\n", "\n</think>\n\n")]


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


# --- sft ---------------------------------------------------------------------------------------


def aligned(messages, tags):
    """LLaMA-Factory's SharegptDatasetConverter: None when aligned, else why not."""
    role, content = tags["role_tag"], tags["content_tag"]
    odd = (tags["user_tag"], tags["observation_tag"])
    even = (tags["assistant_tag"], tags["function_tag"])
    if messages and messages[0][role] == tags["system_tag"]:
        messages = messages[1:]
    for i, message in enumerate(messages):
        if message[role] not in (odd, even)[i % 2]:
            return f"invalid role tag {message[role]!r} at turn {i + 1}"
        if not isinstance(message[content], str):
            return f"turn {i + 1}: {content} is not a string"
    if len(messages) % 2 != 0:
        return f"invalid message count {len(messages)}"
    return None


def parse_function_call(value, thought_words):
    """LLaMA-Factory's FunctionFormatter.apply: the calls, or an exception."""
    regex = re.compile(re.escape(thought_words[0]) + "(.*?)" + re.escape(thought_words[1]), re.DOTALL)
    thought = regex.search(value)
    if thought:
        value = value.replace(thought.group(0), "")
    calls = json.loads(value)
    if not isinstance(calls, list):
        calls = [calls]
    return [(call["name"], json.dumps(call["arguments"], ensure_ascii=False)) for call in calls]


def check_example(example, entry, where):
    columns, tags = entry["columns"], entry["tags"]
    messages = example[columns["messages"]]
    check(isinstance(messages, list) and messages, f"{where}: no conversation")
    problem = aligned(messages, tags)
    check(problem is None, f"{where}: LLaMA-Factory would skip this example: {problem}")
    check(messages[-1][tags["role_tag"]] == tags["assistant_tag"], f"{where}: does not end with an answer")
    if "system" in columns:
        check(isinstance(example[columns["system"]], str), f"{where}: system is not a string")
    if "tools" in columns:
        tools = json.loads(example[columns["tools"]])
        check(isinstance(tools, list) and tools, f"{where}: tools is not a JSON list")
        for tool in tools:
            check({"name", "description", "parameters"} <= set(tool), f"{where}: tool {tool} lacks a field")
    for i, message in enumerate(messages):
        if message[tags["role_tag"]] != tags["function_tag"]:
            continue
        for words in THOUGHT_WORDS:
            try:
                calls = parse_function_call(message[tags["content_tag"]], words)
            except (ValueError, KeyError, TypeError) as e:
                raise Failure(f"{where}: turn {i + 1}: function_call does not parse with thought words {words!r}: {e}")
            check(calls and all(name for name, _ in calls), f"{where}: turn {i + 1}: a call without a name")


def check_sft(folder):
    info_path = os.path.join(folder, "dataset_info.json")
    with open(info_path, encoding="utf-8") as f:
        info = json.load(f)
    check(isinstance(info, dict), f"{info_path}: not a JSON object")
    checked = 0
    for name, entry in sorted(info.items()):
        if entry.get("formatting") != "sharegpt":
            continue
        where = f"{info_path}: {name}"
        check("file_name" in entry, f"{where}: no file_name")
        check(entry.get("columns", {}).get("messages"), f"{where}: no messages column")
        check(set(entry.get("tags", {})) >= {"role_tag", "content_tag", "user_tag", "assistant_tag",
                                             "observation_tag", "function_tag", "system_tag"},
              f"{where}: incomplete tags")
        data = os.path.join(folder, entry["file_name"])
        check(os.path.isfile(data), f"{where}: {data} does not exist")
        keys, count = None, 0
        with open(data, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                example = json.loads(line)
                check(keys is None or set(example) == keys, f"{data}:{number}: keys differ from line 1")
                keys = set(example)
                check_example(example, entry, f"{data}:{number}")
                count += 1
        check(count > 0, f"{data}: empty")
        print(f"check_export: sft {name}: {count} examples follow LLaMA-Factory's sharegpt rules ({data})")
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
