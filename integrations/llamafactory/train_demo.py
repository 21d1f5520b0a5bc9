#!/usr/bin/env python3
"""Helpers of scripts/train-demo.sh (run with the train-demo virtualenv's Python).

    train_demo.py check-template SFT_DIR DATASET MODEL_DIR TEMPLATE [--serve-url URL] [--cutoff N]
        Every example through LLaMA-Factory's own converter and supervised processor: it must
        be kept, render to exactly the text `masksearch llm serve` renders for the same turns
        in `--mode turns` (ChatML, information as user turns), and LLaMA-Factory's token ids
        must equal the tokenizer's ids for that whole text (no merge across a turn boundary).
        With --serve-url, a few prompts also go to the GGUF behind `masksearch llm serve`,
        whose prompt token count (llama.cpp's tokenizer) must equal LLaMA-Factory's.
    train_demo.py heldout RAMP.jsonl TRAIN.jsonl VAL.jsonl N OUT.jsonl
        The first N RAMP samples of the validation split (never trained on) as FlashRAG
        question JSONL for `masksearch eval`, plus OUT.masks.jsonl with their masks.
    train_demo.py report OUT_DIR MASKSEARCH LABEL=EVAL_DIR... [--times TIMES.tsv]
        The before/after table from the eval folders' predictions.jsonl (merged per LABEL) (masks recovered
        scored by `masksearch reward --preset masks`), as OUT_DIR/summary.md and summary.json.
"""

import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

IGNORE = -100


def check_template(argv):
    import lf_data
    from transformers import AutoTokenizer

    sft_dir, dataset, model_dir, template = argv[:4]
    options = dict(zip(argv[4::2], argv[5::2]))
    cutoff = int(options.get("--cutoff", 100_000))
    serve_url = options.get("--serve-url")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths, sent, problems = [], 0, []
    for e in lf_data.encode(sft_dir, dataset, tokenizer, template):
        turns = lf_data.runtime_turns(e.messages)
        text = lf_data.runtime_chatml(turns, add_generation_prompt=False)
        rendered = tokenizer.decode(e.input_ids)
        if rendered != text:
            problems.append(f"line {e.line}: LLaMA-Factory renders {rendered[:200]!r}…, the runtime {text[:200]!r}…")
        elif tokenizer.encode(text, add_special_tokens=False) != e.input_ids:
            problems.append(f"line {e.line}: same text, other token ids than the runtime's whole-text tokenization")
        if e.system:
            problems.append(f"line {e.line}: a system message the runtime never sends: {e.system[:80]!r}")
        lengths.append(len(e.input_ids))
        if serve_url and sent < 5 and not problems:
            # The prompt of the final answer turn, as the runtime sends it.
            start = len(e.labels)
            while start > 0 and e.labels[start - 1] != IGNORE:
                start -= 1
            body = {"model": "local", "messages": turns[:-1], "max_tokens": 1, "temperature": 0}
            request = urllib.request.Request(serve_url.rstrip("/") + "/chat/completions", json.dumps(body).encode(),
                                             {"Content-Type": "application/json"})
            usage = json.load(urllib.request.urlopen(request, timeout=600))["usage"]
            if usage["prompt_tokens"] != start:
                problems.append(f"line {e.line}: llama.cpp counts {usage['prompt_tokens']} prompt tokens, "
                                f"LLaMA-Factory {start}")
            sent += 1
        if len(problems) >= 5:
            break
    for p in problems:
        print(f"check-template: FAIL: {p}", file=sys.stderr)
    if problems:
        return 1
    lengths.sort()
    over = sum(n > cutoff for n in lengths)
    print(json.dumps({"examples": len(lengths), "template": template, "tokens_p50": lengths[len(lengths) // 2],
                      "tokens_max": lengths[-1], "over_cutoff": over, "cutoff": cutoff,
                      "llama_cpp_prompts_compared": sent}))
    if over:
        print(f"check-template: FAIL: {over} examples exceed cutoff_len {cutoff}; LLaMA-Factory would cut "
              "their turns (the final answer included)", file=sys.stderr)
        return 1
    return 0


def heldout(argv):
    ramp, train, val, n, out = argv[0], argv[1], argv[2], int(argv[3]), argv[4]

    def ids(path):
        with open(path, encoding="utf-8") as f:
            return {json.loads(line)["id"] for line in f if line.strip()}

    trained, held = ids(train), ids(val)
    picked = []
    with open(ramp, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["id"] in held and r["id"] not in trained:
                picked.append(r)
                if len(picked) == n:
                    break
    if not picked:
        print("heldout: no validation sample found in the RAMP file", file=sys.stderr)
        return 1
    with open(out, "w", encoding="utf-8") as q, open(out.removesuffix(".jsonl") + ".masks.jsonl", "w") as m:
        for r in picked:
            q.write(json.dumps({"id": r["id"], "question": r["query"], "golden_answers": [r["answer"]]}) + "\n")
            m.write(json.dumps({"id": r["id"], "masks": r["ext"]["masks"]}) + "\n")
    print(f"heldout: {len(picked)} validation RAMP samples (none trained on) → {out}")
    return 0


def masks_recovered(masksearch, predictions, masks):
    """Mean share of masks recovered, by `masksearch reward --preset masks` on the transcripts."""
    items = [{"data_source": "masksearch_ramp", "solution_str": p["transcript"],
              "ground_truth": {"target": masks[p["id"]]}, "extra_info": {"mask_num": len(masks[p["id"]])}}
             for p in predictions]
    if not items:
        return None
    out = subprocess.run([masksearch, "reward", "--preset", "masks"], input="".join(json.dumps(i) + "\n" for i in items),
                         capture_output=True, text=True, check=True).stdout
    scores = [json.loads(line) for line in out.splitlines() if line.strip()]
    return sum(s.get("parts", {}).get("masks", 0.0) for s in scores) / len(scores)


# The runtime's fixed corrective turn after an invalid action (Search-R1's text); it names the
# tags itself, so it is taken out before looking for the model's own </answer>.
CORRECTION = ("My previous action is invalid. If I want to search, I should put the query between <search> and "
              "</search>. If I want to give the final answer, I should put the answer between <answer> and "
              "</answer>. Let me try again.")


def closed_answer(prediction):
    """The model itself closed an answer: `</answer>` in what it wrote (not in the correction)."""
    return prediction["end"] == "answered" and "</answer>" in prediction["transcript"].replace(CORRECTION, "")


def summarize(predictions, masksearch, masks):
    n = len(predictions)
    closed = sum(closed_answer(p) for p in predictions)
    row = {
        "questions": n,
        "closed_answer": closed / n,
        "searches_per_question": sum(p["searches"] for p in predictions) / n,
        "tokens_per_answer": sum(p["completion_tokens"] for p in predictions) / n,
        "token_recall": sum(p["scores"].get("recall", 0.0) for p in predictions) / n,
        "seconds_per_question": sum(p["ms"] for p in predictions) / n / 1000,
        "ends": {},
    }
    for p in predictions:
        row["ends"][p["end"]] = row["ends"].get(p["end"], 0) + 1
    ramp = [p for p in predictions if p["id"] in masks]
    if ramp:
        row["masks_recovered"] = masks_recovered(masksearch, ramp, masks)
    return row


def seconds(text):
    try:
        return f"{float(text):.0f} s"
    except ValueError:
        return text


def report(argv):
    out_dir, masksearch = argv[0], argv[1]
    rest = argv[2:]
    times = None
    if "--times" in rest:
        i = rest.index("--times")
        times = rest[i + 1]
        rest = rest[:i] + rest[i + 2:]
    masks = {}
    for name in os.listdir(out_dir):
        if name.endswith(".masks.jsonl"):
            with open(os.path.join(out_dir, name), encoding="utf-8") as f:
                for line in f:
                    r = json.loads(line)
                    masks[r["id"]] = r["masks"]
    runs = {}
    for spec in rest:
        label, folder = spec.split("=", 1)
        with open(os.path.join(folder, "predictions.jsonl"), encoding="utf-8") as f:
            runs.setdefault(label, []).extend(json.loads(line) for line in f if line.strip())
    table = {}
    for label, predictions in runs.items():
        by_group = {}
        for p in predictions:
            group = "ramp-heldout" if p["id"] in masks else "benchmarks"
            by_group.setdefault(group, []).append(p)
        table[label] = {group: summarize(ps, masksearch, masks) for group, ps in sorted(by_group.items(), reverse=True)}
    lines = ["| model | set | questions | answers closed with </answer> | valid searches / question |"
             " masks recovered | token recall | tokens / answer | s / question |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, groups in table.items():
        for group, r in groups.items():
            recovered = f"{r['masks_recovered']:.1%}" if r.get("masks_recovered") is not None else "–"
            lines.append(f"| {label} | {group} | {r['questions']} | {r['closed_answer']:.0%} |"
                         f" {r['searches_per_question']:.2f} | {recovered} | {r['token_recall']:.1%} |"
                         f" {r['tokens_per_answer']:.0f} | {r['seconds_per_question']:.1f} |")
    if times:
        lines += ["", "| stage | wall time | CPU time (user + sys) |", "|---|---|---|"]
        with open(times, encoding="utf-8") as f:
            for line in f:
                stage, wall, cpu = line.rstrip("\n").split("\t")
                lines.append(f"| {stage} | {seconds(wall)} | {seconds(cpu)} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(table, f, indent=2)
    print(text)
    return 0


def main(argv):
    commands = {"check-template": check_template, "heldout": heldout, "report": report}
    if len(argv) < 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[1]](argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
