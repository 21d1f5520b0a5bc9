"""Tests of masksearch_student.py with plain Python (no verl, no torch): the tags grammar against
the shared table of parser cases, the tool, the corrective turn and the stop sequences against
their Rust definitions, and the search against a live `masksearch serve`.

    python3 integrations/verl/test_masksearch_student.py --bin target/debug/masksearch

- Grammar: every line of testdata/student/turns.jsonl (the cases crates/student/tests/turns.rs
  holds the Rust parser to): `{"text", "finish": "stop"|"length", "thought_before", "action",
  "queries"?, "answer"?, "kept"}`; the Python reading must give the same action, queries, answer
  and kept text.
- Definitions: the `web_search` tool is testdata/student/web_search_tool.json's; the corrective
  turn and the stop sequences are crates/student/src/turn.rs's `INVALID_ACTION_OBSERVATION` and
  `STOPS`, read from the Rust source.
- Exclusion: which passage MASKSEARCH_EXCLUDE_SOURCE sets aside for a sample.
- Search (--bin or MASKSEARCH_BIN; required): a server on an index of testdata's 20 wiki-18
  passages; `observe` returns `/observation`'s block, with and without `exclude`; `/retrieve`
  answers in ASCII that Python's `json` reads back to the passages' own text; a server
  without `/observation` and an unreachable one raise SearchError naming the URL; a server at its
  cap of requests in flight is asked again after its Retry-After, by the search and by the
  reward file (masksearch_reward.py), which share the HTTP client; one that takes the request
  and never answers is named with the wait and not asked again.

Prints `test_masksearch_student: N passed, M failed`; exit status 1 on any failure.
"""

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TURNS = REPO / "testdata/student/turns.jsonl"
TOOL = REPO / "testdata/student/web_search_tool.json"
RUST_TURN = REPO / "crates/student/src/turn.rs"
sys.path.insert(0, str(HERE))
import masksearch_student as student  # noqa: E402
import masksearch_reward as reward  # noqa: E402

RESULTS = []


def record(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def test_grammar():
    rows = [json.loads(line) for line in TURNS.read_text(encoding="utf-8").splitlines() if line.strip()]
    failures = []
    for i, case in enumerate(rows, 1):
        if case["finish"] not in ("stop", "length"):
            failures.append(f"line {i}: finish {case['finish']!r}")
            continue
        turn = student.parse_turn(case["text"], finish=case["finish"], thought_before=case["thought_before"])
        got = (turn.action, turn.queries, turn.answer if turn.action == "answer" else None, turn.text)
        want = (case["action"], case.get("queries") or [], case.get("answer"), case["kept"])
        if got != want:
            failures.append(f"line {i} {case['text']!r}: {got} != {want}")
    finishes = {case["finish"] for case in rows}
    record(f"grammar: {len(rows)} cases of {TURNS.relative_to(REPO)} (finish {'/'.join(sorted(finishes))})",
           rows and not failures, "; ".join(failures[:5]))


def rust_str_const(source, name):
    """The value of `pub const NAME: &str = "…";` in Rust source (the escapes it uses: \\n \\" \\\\)."""
    match = re.search(rf'pub const {name}: &str = "((?:[^"\\]|\\.)*)";', source)
    if not match:
        raise AssertionError(f"no const {name} in {RUST_TURN}")
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), match.group(1))


def test_definitions():
    tool = json.loads(TOOL.read_text(encoding="utf-8"))
    record("tool: web_search is testdata/student/web_search_tool.json's",
           student.OPENAI_TOOL == tool and student.TOOL_NAME == tool["function"]["name"] == "web_search"
           and Path(student.TOOL_FILE).resolve() == TOOL.resolve())
    source = RUST_TURN.read_text(encoding="utf-8")
    rust = rust_str_const(source, "INVALID_ACTION_OBSERVATION")
    record("corrective turn: INVALID_ACTION_OBSERVATION is crates/student/src/turn.rs's",
           student.INVALID_ACTION_OBSERVATION == rust, repr(rust[:60]))
    stops = re.search(r"pub const STOPS: \[&str; \d+\] = \[([^\]]*)\];", source)
    rust_stops = tuple(re.findall(r'"([^"]*)"', stops.group(1))) if stops else None
    record("stop sequences: STOPS are crates/student/src/turn.rs's", student.STOPS == rust_stops, str(rust_stops))
    cap = re.search(r"pub const MAX_TOKENS_PER_TURN: u32 = (\d+);", (REPO / "crates/student/src/lib.rs").read_text())
    cap = int(cap.group(1)) if cap else None
    record("turn cap: MAX_TOKENS_PER_TURN is crates/student/src/lib.rs's", student.MAX_TOKENS_PER_TURN == cap, str(cap))
    caps = []
    for value in ("", "64", "0", "-1", "many"):
        os.environ["MASKSEARCH_MAX_TURN_TOKENS"] = value
        try:
            caps.append(student.max_turn_tokens())
        except ValueError as e:
            caps.append("refused" if "MASKSEARCH_MAX_TURN_TOKENS" in str(e) else str(e))
    del os.environ["MASKSEARCH_MAX_TURN_TOKENS"]
    record("turn cap: MASKSEARCH_MAX_TURN_TOKENS read (unset, 64, 0 for none, refused)",
           caps == [cap, 64, None, "refused", "refused"], str(caps))


def test_exclusion():
    ramp = {"id": "Ada#0", "passage": "Ada Lovelace was …", "mask_num": 2}
    cases = [
        ({}, ramp, []),
        ({"MASKSEARCH_EXCLUDE_SOURCE": "0"}, ramp, []),
        ({"MASKSEARCH_EXCLUDE_SOURCE": "1"}, ramp, ["Ada#0"]),
        ({"MASKSEARCH_EXCLUDE_SOURCE": "1"}, {**ramp, "passage_id": "p7"}, ["p7"]),
        ({"MASKSEARCH_EXCLUDE_SOURCE": "1"}, {"id": "q1", "passage": None, "mask_num": None}, []),
        ({"MASKSEARCH_EXCLUDE_SOURCE": "1"}, None, []),
    ]
    failures = [f"{env} {info}: {got}" for env, info, want in cases
                if (got := student.source_exclusion(info, environ=env)) != want]
    for env, info in (({"MASKSEARCH_EXCLUDE_SOURCE": "yes"}, ramp), ({"MASKSEARCH_EXCLUDE_SOURCE": "1"}, {"passage": "x"})):
        try:
            student.source_exclusion(info, environ=env)
            failures.append(f"{env} {info}: no error")
        except ValueError:
            pass
    record("exclusion: MASKSEARCH_EXCLUDE_SOURCE=1 sets aside a RAMP sample's passage only", not failures,
           "; ".join(failures))


class NoObservation(http.server.BaseHTTPRequestHandler):
    """A server from before /observation: every POST is a 404."""

    def do_POST(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def post(url, body):
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def raises_search_error(call, must_hold):
    try:
        call()
        return False, "no error"
    except student.SearchError as e:
        return all(part in str(e) for part in must_hold), str(e)


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
        url = re.match(r"listening on (http://\S+)", server.stdout.readline()).group(1).rstrip("/")
        queries = ["history of the city", "river in the north"]
        served = post(url + "/observation", {"queries": queries, "topk": 3})
        block = student.observe(queries, url=url)
        record("search: observe() is /observation's block", block == served["observation"].strip()
               and block.startswith("<information>Doc 1(Title: ") and "Doc 3(" in block, block[:100])
        top = served["ids"][0]
        without = post(url + "/observation", {"queries": queries, "topk": 3, "exclude": [top]})
        excluded = student.observe(queries, url=url, exclude=[top])
        record("search: exclude reaches /observation", excluded == without["observation"].strip()
               and excluded != block and top not in without["ids"], f"without {top}")
        stale = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoObservation)
        threading.Thread(target=stale.serve_forever, daemon=True).start()
        stale_url = f"http://127.0.0.1:{stale.server_address[1]}"
        ok, detail = raises_search_error(lambda: student.observe(queries, url=stale_url),
                                         [f"{stale_url}/observation", "no POST /observation"])
        stale.shutdown()
        record("search: a server without /observation is named in the error", ok, detail)
        retrieve_reads_back(url, passages)
        busy_retried(binary, index, queries)
        ok, detail = raises_search_error(lambda: student.observe(queries, url="http://127.0.0.1:9"),
                                         ["http://127.0.0.1:9/observation", "cannot reach"])
        record("search: an unreachable server raises SearchError", ok, detail)
        silent_timeout()
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def retrieve_reads_back(url, passages):
    """`/retrieve` answers in ASCII, and Python's own `json` reads every document back to its
    passage's strings, accents, dashes and Devanagari included (6 of the 20 are not ASCII)."""
    by_id = {p["id"]: p for p in map(json.loads, passages.read_text(encoding="utf-8").splitlines())}
    wanted = [p for p in by_id.values() if not (p["title"] + p["text"]).isascii()]
    body = json.dumps({"queries": [p["title"] for p in wanted], "topk": 20}).encode()
    request = urllib.request.Request(url + "/retrieve", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    docs = [doc for hits in json.loads(raw)["result"] for doc in hits]
    same = all(d["title"] == by_id[d["id"]]["title"] and d["text"] == by_id[d["id"]]["text"]
               and by_id[d["id"]]["text"] in d["contents"] for d in docs)
    found = {d["id"] for d in docs}
    record("search: /retrieve answers in ASCII that Python reads back to the passages' own text",
           raw.isascii() and len(wanted) == 6 and all(p["id"] in found for p in wanted) and same,
           f"{len(docs)} documents, ascii {raw.isascii()}, {len(wanted)} passages beyond ASCII")


def silent_timeout():
    """A server that takes the request and never answers: the reward names the wait and does not
    ask again (three attempts would wait three times as long)."""
    silent = socket.create_server(("127.0.0.1", 0))  # connections queue up, none is answered
    os.environ["MASKSEARCH_REWARD_TIMEOUT"] = "0.5"
    started = time.monotonic()
    try:
        got = reward.compute_score("hotpotqa", "<answer>x</answer>", ["x"], url=f"http://127.0.0.1:{silent.getsockname()[1]}")
    except reward.MaskSearchRewardError as e:
        got = str(e)
    finally:
        del os.environ["MASKSEARCH_REWARD_TIMEOUT"]
        silent.close()
    waited = time.monotonic() - started
    record("reward: a server that does not answer is named with the wait, not asked again",
           isinstance(got, str) and got.endswith("no answer within 0.5 s") and waited < 1.0,
           f"after {waited:.1f} s: {got}")


def busy_retried(binary, index, queries):
    """A server at its cap answers 503 with Retry-After; the search and the reward (one HTTP
    client) wait and ask again."""
    server = subprocess.Popen([binary, "serve", "--index", str(index), "--host", "127.0.0.1", "--port", "0",
                               "--max-in-flight", "1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.match(r"listening on (http://\S+)", server.stdout.readline()).group(1).rstrip("/")
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps({"queries": queries, "topk": 3}).encode()
        calls = {
            "search": (lambda: student.observe(queries, url=url),
                       lambda got: got.startswith("<information>Doc 1(")),
            "reward": (lambda: reward.compute_score("hotpotqa", "<think>t</think>\n<answer>Paris</answer>",
                                                    {"target": ["Paris"]}, preset="em", url=url),
                       lambda got: got == 1.0),
        }
        for name, (call, answered) in calls.items():
            # A request whose body has not all come in holds the one place in flight.
            holder = socket.create_connection((host, int(port)))
            holder.sendall(b"POST /observation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
            time.sleep(0.3)
            try:
                post(url + "/observation", {"queries": queries, "topk": 3})
                refused = "not refused"
            except urllib.error.HTTPError as e:
                refused = f"{e.code} Retry-After {e.headers.get('Retry-After')}"
            # The held request finishes while the call waits out its Retry-After.
            threading.Timer(0.5, lambda h=holder: (h.sendall(body[5:]), h.recv(65536), h.close())).start()
            started = time.monotonic()
            try:
                got = call()
            except (student.SearchError, reward.MaskSearchRewardError) as e:
                got = str(e)
            waited = time.monotonic() - started
            record(f"{name}: a server at its cap (503, Retry-After) is asked again after the wait",
                   refused == "503 Retry-After 1" and answered(got) and waited >= 0.9,
                   f"first {refused}; after {waited:.1f} s: {str(got)[:80]}")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.environ.get("MASKSEARCH_BIN"), help="the masksearch binary (required)")
    args = parser.parse_args()
    test_grammar()
    test_definitions()
    test_exclusion()
    if args.bin:
        test_search(args.bin)
    else:
        record("search: needs the masksearch binary (--bin or MASKSEARCH_BIN)", False)
    failed = RESULTS.count(False)
    print(f"test_masksearch_student: {len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
