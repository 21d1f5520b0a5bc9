"""The Ray integration on a real local Ray cluster: a head and two worker nodes, each its own
raylet process, every one of them on 127.0.0.1, the real masksearch binary as the worker.

1. ramp, rule-teacher trajectories and eval (direct and RAG-PE, the local model, greedy) over
   the demo corpus (10,033 summaries), once on one machine and once as 4 Ray shards merged; during
   the sharded eval one worker node is killed (SIGKILL of its raylet and everything on it) while
   its shards are answering. Every merged output equals the one-machine run (the records
   byte for byte, the time fields left out where the run measures time).
2. `index --dense` (MiniLM) of 150 passages in 4 Ray shards, put together: the vectors of one
   machine's build.
3. A retrieval server per node: each answers /retrieve; one actor process killed with SIGKILL
   is restarted by Ray and serves again; one server process killed is restarted by its actor.

Run by the e2e test `ray` (`cargo test`), with the project's .venv Python:
    .venv/bin/python integrations/ray/test_masksearch_ray.py --bin target/debug/masksearch
"""

import argparse
import array
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import local_cluster  # noqa: E402  (first: it sets Ray up for loopback)
import masksearch_ray as mr  # noqa: E402
import ray  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = [
    f"testdata/benchmarks/{b}.first3.jsonl" for b in ("hotpotqa_500", "2wiki_500", "musique_500", "bamboogle", "nq-sample")
]
passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + str(detail)}", flush=True)


def run(binary, *args, cwd):
    done = subprocess.run([binary, *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"masksearch {' '.join(map(str, args))} failed: {done.stderr}")
    return done


def untimed(path):
    """A JSONL file's records with the wall times (`ms`) left out."""

    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "ms"}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return [strip(json.loads(line)) for line in Path(path).read_text().splitlines()]


def commands(work, model):
    """The three steps, as a user writes them (the --out of each is where the merge goes)."""
    ramp = ["ramp", "--passages", "passages.jsonl", "--curriculum", "original", "--out", f"{work}/ramp.jsonl"]
    trajectories = ["trajectories", "--teacher", "rule", "--input", f"{work}/ramp.jsonl", "--index", "index",
                    "--out", f"{work}/t.jsonl"]
    evaluate = ["eval", *[str(REPO / b) for b in BENCHMARKS], "--methods", "direct,rag-pe", "--index", "index",
                "--model", model, "--threads", "1", "--max-tokens", "32", "--concurrency", "1", "--today", "2026-11-27",
                "--out", f"{work}/eval"]
    return ramp, trajectories, evaluate


def kill_during_eval(cluster, victim, cwd, shards, killed):
    """Kills node `victim` once one of its eval shards has written an answer and not finished."""
    node = victim.node_id
    deadline = time.time() + 300
    while time.time() < deadline:
        for i in range(shards):
            folder = Path(cwd, mr.shard_out("eval", "sharded/eval", i, shards))
            log = Path(cwd, mr.shard_folder("sharded/eval", i, shards)) / "attempts.log"
            if not log.exists() or node not in log.read_text():
                continue
            predictions = folder / "predictions.jsonl"
            manifest = mr.manifest_counts(Path(f"{predictions}.manifest.json"))
            written = predictions.read_text().count("\n") if predictions.exists() else 0
            if written >= 1 and manifest.get("written", 0) < manifest.get("total", 1):
                cluster.remove_node(victim, allow_graceful=False)
                killed.append((i, written))
                return
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--model", default=str(REPO / "assets/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    a = parser.parse_args()
    binary = os.path.abspath(a.bin)
    shards = 4
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        run(binary, "ingest", REPO / "assets/corpus/wiki-summaries.jsonl", "--out", "passages.jsonl", cwd=cwd)
        run(binary, "index", "--passages", "passages.jsonl", "--out", "index", cwd=cwd)
        for step in commands("one", a.model):
            run(binary, *step, cwd=cwd)

        cluster, workers = local_cluster.start(cwd / "ray", workers=2, cpus=2)
        try:
            ramp, trajectories, evaluate = commands("sharded", a.model)
            say = lambda line: print(line, flush=True)
            mr.run_sharded(binary, ramp, shards, 3, str(cwd), say)
            same = (cwd / "one/ramp.jsonl").read_bytes() == (cwd / "sharded/ramp.jsonl").read_bytes()
            check("4 ramp shards merged are the one-machine samples, byte for byte", same)
            manifests = [json.loads((cwd / d / "ramp.jsonl.manifest.json").read_text()) for d in ("one", "sharded")]
            check("and its manifest", manifests[0] == manifests[1], manifests)

            try:
                bad = ["ramp", "--passages", "passages.jsonl", "--no-such-flag", "--out", "bad/ramp.jsonl"]
                mr.run_sharded(binary, bad, 2, 3, str(cwd), say)
                check("a shard whose command fails stops the job", False, "it went on")
            except Exception as e:  # Ray's task error, wrapping ours
                check("a shard whose command fails stops the job, with its exit code and error",
                      "exited with 2" in str(e) and "--no-such-flag" in str(e), e)
            mr.run_sharded(binary, trajectories, shards, 3, str(cwd), say)
            for f in ("t.jsonl", "t.rejected.jsonl"):
                one, sharded = untimed(cwd / "one" / f), untimed(cwd / "sharded" / f)
                check(f"4 rule-teacher shards merged: {f} as on one machine ({len(one)} records)",
                      one == sharded and len(one) > 0)

            killed = []
            killer = threading.Thread(target=kill_during_eval, args=(cluster, workers[0], cwd, shards, killed))
            killer.start()
            summary = mr.run_sharded(binary, evaluate, shards, 3, str(cwd), say)
            killer.join()
            check("a worker node was killed while one of its eval shards was answering", killed, killed)
            check("the killed node's shards were retried on the other", summary["retried"] >= 1, summary)
            one, sharded = untimed(cwd / "one/eval/predictions.jsonl"), untimed(cwd / "sharded/eval/predictions.jsonl")
            check(f"the merged eval answers are the one-machine answers ({len(one)})", one == sharded and len(one) == 30)
            report = lambda d: [l.rsplit(" | ", 1)[0] for l in (cwd / d / "eval/report.md").read_text().splitlines()]
            check("and so is its report (seconds left out)", report("one") == report("sharded"))

            local_cluster.add_worker(cluster, 2)
            dense_in_shards(binary, cwd, shards, say)
            serve_per_node(binary, cwd)
        finally:
            local_cluster.stop(cluster)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def dense_in_shards(binary, cwd, shards, say):
    """`index --dense` of a small index as Ray shards, put together by the same command."""
    minilm = str(REPO / "assets/models/all-MiniLM-L6-v2")
    lines = (cwd / "passages.jsonl").read_text().splitlines()[:150]
    (cwd / "few.jsonl").write_text("\n".join(lines) + "\n")
    for name in ("small-one", "small"):
        run(binary, "index", "--passages", "few.jsonl", "--out", name, cwd=cwd)
    dense = ["--dense", minilm, "--dense-batch", "8"]
    run(binary, "index", "--out", "small-one", *dense, cwd=cwd)
    mr.run_sharded(binary, ["index", "--out", "small", *dense], shards, 3, str(cwd), say)
    one, sharded = (array.array("f", (cwd / d / "dense/vectors.bin").read_bytes()) for d in ("small-one", "small"))
    worst = max((abs(a - b) for a, b in zip(one, sharded)), default=1.0)
    check(f"4 shards of embedding put together are the one-machine vectors ({len(one) // 384} rows, "
          f"largest difference {worst:.1e}: batches padded differently)",
          len(one) == len(sharded) == 150 * 384 and worst < 1e-4, worst)
    check("and the shards are gone once taken", not (cwd / "small/dense.shards").exists())


def retrieve(url):
    body = json.dumps({"queries": ["capital of Australia"], "topk": 2, "return_scores": True}).encode()
    request = urllib.request.Request(url + "/retrieve", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)["result"][0]


def serve_per_node(binary, cwd):
    actors = mr.start_retrievers(binary, ["--index", "index"], 0, str(cwd))
    states = mr.check_retrievers(actors)
    alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    check(f"a retrieval server on each of the {len(alive)} alive nodes",
          sorted(states) == sorted(alive) and all(s["ok"] for s in states.values()), states)
    answers = {n: retrieve(s["url"]) for n, s in states.items()}
    check("each answers /retrieve with the same documents",
          len({json.dumps(a, sort_keys=True) for a in answers.values()}) == 1 and len(next(iter(answers.values()))) == 2,
          answers)

    node, state = next(iter(states.items()))
    os.kill(state["actor_pid"], signal.SIGKILL)
    after = mr.check_retrievers({node: actors[node]}, timeout=60)[node]
    check("an actor killed with SIGKILL is restarted by Ray and serves again",
          after["ok"] and after["actor_pid"] != state["actor_pid"] and len(retrieve(after["url"])) == 2,
          (state, after))

    os.kill(after["pid"], signal.SIGKILL)
    time.sleep(0.2)
    again = mr.check_retrievers({node: actors[node]})[node]
    check("a server process killed is started again by its actor",
          again["ok"] and again["restarts"] == 1 and again["pid"] != after["pid"] and len(retrieve(again["url"])) == 2,
          (after, again))
    for actor in actors.values():
        ray.kill(actor, no_restart=True)


if __name__ == "__main__":
    main()
