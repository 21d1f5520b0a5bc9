"""Tests of masksearch_student.py with plain Python (no verl, no torch): the tags grammar against
the Rust parser's golden cases, and the search against a live `masksearch serve`.

    python3 integrations/verl/test_masksearch_student.py [--bin target/debug/masksearch]

- Grammar: every line of testdata/student/turns.jsonl, written from the Rust parser (the one
  definition of the grammar), read back here: `{"text", "action": "search"|"answer"|"invalid",
  "queries", "answer"}` and optionally `"finish": "stop"` (the closing tag was cut off by a stop
  sequence). Until that file exists, the cases below (taken from crates/student/src/turn.rs's
  tests).
- Search (with --bin or MASKSEARCH_BIN): a server on an index of testdata's 20 wiki-18 passages;
  `observe` returns the `<information>` block, equal to `/observation`'s when the server has it.

Prints `test_masksearch_student: N passed, M failed`; exit status 1 on any failure.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GOLDEN = REPO / "testdata/student/turns.jsonl"
sys.path.insert(0, str(HERE))
import masksearch_student as student  # noqa: E402

# (text, action, queries, answer, closed by a stop sequence)
OWN_CASES = [
    ("<think>who?</think>\n<search> Mona Lisa painter </search>", "search", ["Mona Lisa painter"], None, False),
    ("<think>ok</think> <answer> Leonardo </answer>", "answer", [], "Leonardo", False),
    ("<think>x</think>\n<search>\nq1\n\n  q2  \nq1\n</search>", "search", ["q1", "q2"], None, False),
    ("<think>x</think><search> a<b>c\tx </search>", "search", ["a b c x"], None, False),
    ("<think>x</think><search> q ", "search", ["q"], None, True),
    ("<think>x</think><answer>Paris", "answer", [], "Paris", True),
    ("<think>x</think><search> q", "invalid", [], None, False),
    ("<think>x</think><search>a</search><search>b</search>", "search", ["a"], None, False),
    ("<think>x</think><answer>a</answer> and more words", "answer", [], "a", False),
    ("<answer>a</answer>", "answer", [], "a", False),
    ("<think>x</think><search>  </search>", "invalid", [], None, False),
    ("<think>x</think><search>\n<>\n</search>", "invalid", [], None, False),
    ("I think the answer is 42.", "invalid", [], None, False),
    ("<think>x</think><answer>a</answer><search>b</search>", "answer", [], "a", False),
    ("<think>x</think><search>b</search><answer>a</answer>", "search", ["b"], None, False),
    ("<answer>a <answer>b</answer>", "answer", [], "a <answer>b", False),
    ("<think>x</think><answer>\u3000Paris\u2003</answer>", "answer", [], "Paris", False),
    ("<think>x</think><search>q\u001fr</search>", "search", ["q\u001fr"], None, False),
]

RESULTS = []


def record(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def cases():
    if not GOLDEN.exists():
        return "own cases (no testdata/student/turns.jsonl yet)", OWN_CASES
    rows = []
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if line.strip():
            c = json.loads(line)
            rows.append((c["text"], c["action"], c.get("queries") or [], c.get("answer"), c.get("finish") == "stop"))
    return f"{GOLDEN.relative_to(REPO)}", rows


def test_grammar():
    source, rows = cases()
    failures = []
    for text, action, queries, answer, closed in rows:
        turn = student.parse_turn(text, closed_by_stop=closed)
        got = (turn.action, turn.queries, turn.answer if turn.action == "answer" else None)
        want = (action, list(queries), answer if action == "answer" else None)
        if got != want:
            failures.append(f"{text!r}: {got} != {want}")
    record(f"grammar: {len(rows)} cases from {source}", not failures, "; ".join(failures[:5]))


def test_search(binary):
    tmp = Path(tempfile.mkdtemp(prefix="student-test-"))
    server = None
    try:
        passages, index = tmp / "passages.jsonl", tmp / "index"
        for args in (["ingest", REPO / "testdata/wiki18-shuffled-20.jsonl", "--out", passages],
                     ["index", "--passages", passages, "--out", index]):
            subprocess.run([binary, *map(str, args)], check=True, capture_output=True)
        server = subprocess.Popen([binary, "serve", "--index", str(index), "--host", "127.0.0.1", "--port", "0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = re.match(r"listening on (http://\S+)", server.stdout.readline()).group(1)
        queries = ["history of the city", "river in the north"]
        block = student.observe(queries, url=url)
        ok = block.startswith("<information>Doc 1(Title: ") and block.endswith("</information>") and "Doc 3(" in block
        record("search: observe() answers from masksearch serve", ok, block[:120])
        try:
            body = json.dumps({"queries": queries, "topk": 3}).encode()
            request = urllib.request.Request(url + "/observation", body, {"Content-Type": "application/json"})
            served = json.load(urllib.request.urlopen(request))["observation"].strip()
            record("search: the block is /observation's", block == served)
        except urllib.error.HTTPError as e:
            record(f"search: no /observation on this server (HTTP {e.code}); the block came from /retrieve", True)
        try:
            student.observe(queries, url="http://127.0.0.1:9")
            record("search: an unreachable server raises SearchError", False)
        except student.SearchError as e:
            record("search: an unreachable server raises SearchError", "cannot reach" in str(e), str(e))
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.environ.get("MASKSEARCH_BIN"))
    args = parser.parse_args()
    test_grammar()
    if args.bin:
        test_search(args.bin)
    else:
        print("search tests skipped: no --bin or MASKSEARCH_BIN")
    failed = RESULTS.count(False)
    print(f"test_masksearch_student: {len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
