"""The Ray integration's cost and speed-up on this machine (`make bench-ray`).

On a local Ray cluster (a head that runs nothing, one worker node with W CPUs, every process on
127.0.0.1) the same job runs as W shards for W = 1, 2, 4, beside the plain binary on one machine:
rule-teacher trajectories over the demo's RAMP samples, and eval (direct, the local model, one
thread per shard) of the shipped first-3 benchmark files. Ray's overhead per shard is the time of a
shard with nothing to do (ramp over 20 passages) through Ray, minus the same run without Ray.

    .venv/bin/python benches/ray/bench_ray.py --bin target/release/masksearch [--work work]

Needs `make demo`'s work/ramp.jsonl and work/index. Prints a Markdown table.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "integrations/ray"))
import local_cluster  # noqa: E402  (first: it sets Ray up for loopback)
import masksearch_ray as mr  # noqa: E402

BENCHMARKS = [
    str(REPO / f"testdata/benchmarks/{b}.first3.jsonl")
    for b in ("hotpotqa_500", "2wiki_500", "musique_500", "bamboogle", "nq-sample")
]


def jobs(work, model):
    return {
        "trajectories (rule, 9,380 samples)": [
            "trajectories", "--teacher", "rule", "--input", f"{work}/ramp.jsonl", "--index", f"{work}/index",
        ],
        "eval (direct, 15 questions)": [
            "eval", *BENCHMARKS, "--methods", "direct", "--model", model, "--threads", "1",
            "--concurrency", "1", "--today", "2026-11-27",
        ],
    }


def timed(binary, args, cwd):
    started = time.time()
    subprocess.run([binary, *args], cwd=cwd, check=True, capture_output=True)
    return time.time() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=str(REPO / "target/debug/masksearch"))
    parser.add_argument("--work", default=str(REPO / "work"))
    parser.add_argument("--model", default=str(REPO / "assets/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    a = parser.parse_args()
    binary = str(Path(a.bin).resolve())
    work = str(Path(a.work).resolve())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, args in jobs(work, a.model).items():
            short = name.split()[0]
            (tmp / "plain").mkdir(exist_ok=True)
            plain = timed(binary, [*args, "--out", str(tmp / "plain" / short)], tmp)
            row = [name, f"{plain:.1f} s"]
            for workers in (1, 2, 4):
                cluster, _ = local_cluster.start(tmp / f"ray-{workers}", workers=1, cpus=workers)
                try:
                    out = str(tmp / f"w{workers}" / short)
                    summary = mr.run_sharded(binary, [*args, "--out", out], workers, 3, str(tmp), say=lambda _: None)
                finally:
                    local_cluster.stop(cluster)
                row.append(
                    f"{summary['seconds']:.1f} s ({plain / summary['seconds']:.2f}×; merge {summary['merge_seconds']:.2f} s)"
                )
            rows.append(row)
            print(" | ".join(row), flush=True)

        # Ray's own cost per shard: a shard with (almost) nothing to do, through Ray and without.
        passages = tmp / "few.jsonl"
        lines = Path(work, "passages.jsonl").read_text().splitlines()[:20]
        passages.write_text("\n".join(lines) + "\n")
        small = ["ramp", "--passages", str(passages), "--curriculum", "original"]
        direct = statistics.median(timed(binary, [*small, "--out", str(tmp / f"d{i}.jsonl")], tmp) for i in range(5))
        cluster, _ = local_cluster.start(tmp / "ray-o", workers=1, cpus=4)
        try:
            through = []
            for i in range(5):
                s = mr.run_sharded(binary, [*small, "--out", str(tmp / f"o{i}.jsonl")], 4, 0, str(tmp), say=lambda _: None)
                through.append(s["seconds"])
        finally:
            local_cluster.stop(cluster)
    print()
    print("| job | one machine, no Ray | Ray, 1 shard | Ray, 2 shards | Ray, 4 shards |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nRay's overhead: 4 near-empty shards (ramp of 20 passages) and their merge took "
        f"{statistics.median(through):.3f} s through Ray (median of 5) against {direct:.3f} s for one such run "
        f"without it: {statistics.median(through) - direct:.3f} s per job (task start, polling, merge)."
    )


if __name__ == "__main__":
    main()
