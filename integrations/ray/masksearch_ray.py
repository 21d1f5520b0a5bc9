"""masksearch on a Ray cluster: sharded jobs and one retrieval server per node.

The Rust binary stays the worker; Ray only places it, retries it and watches it.

    python masksearch_ray.py run --shards 8 -- ramp --passages work/passages.jsonl --out work/ramp.jsonl
    python masksearch_ray.py run --shards 8 -- trajectories --teacher rule --input work/ramp.jsonl \
        --out work/trajectories.jsonl --index work/index
    python masksearch_ray.py run --shards 8 -- eval BENCHMARK... --out work/eval --index work/index \
        --base-url http://127.0.0.1:8081/v1
    python masksearch_ray.py run --shards 8 -- index --out work/index --dense assets/models/all-MiniLM-L6-v2
    python masksearch_ray.py serve --port 8000 --index work/index     # other flags go to serve

`run` starts shard i/n of the command as one Ray task per shard, each writing
`<out>.shards/<i>-of-<n>/<name>` (on storage every node sees: the command's paths are read
relative to the driver's working directory on every node). `index --dense MODEL --out INDEX`
(an index that exists) embeds the passages that way: each shard's rows go to the index's
`dense.shards/`, and the same command without a shard then takes them and swaps the vectors in. A shard whose node dies is retried by
Ray on another node, and resumes what the dead one wrote (every masksearch run is resumable; a
lock file keeps a retry from starting while a process of the previous attempt still writes).
When every shard is done, `masksearch merge` checks their manifests (one run, every shard,
complete) and writes `<out>` in the unsplit run's order.

`serve` starts `masksearch serve` on every alive node as a Ray actor pinned to that node, bound
to 127.0.0.1 there (each node's rollout workers ask their own node), checks each one's
`/health` every few seconds, restarts a server that died, and lets Ray restart an actor whose
process died. It runs until interrupted; `--urls FILE` gets each node's URL as JSON.

Standard library and `ray` (pinned in requirements.txt) only.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

if __name__ != "__main__":
    # Imported (by a test, a bench, a user's own driver): the tasks and actors below travel to
    # the workers by value, so the nodes need not find this file on their path.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

# Flags of `eval` that shape its report: `merge` writes the merged report with them.
REPORT_FLAGS = ("--title", "--paper-rows", "--max-disagreements")


def die_with_parent() -> None:
    """Run in a child before exec: SIGKILL it when the Ray worker that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def split_out(args: list[str]) -> tuple[list[str], str]:
    """The command's arguments without `--out PATH`, and PATH."""
    rest, out = [], None
    it = iter(args)
    for arg in it:
        if arg == "--out":
            out = next(it, None)
        elif arg.startswith("--out="):
            out = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if not out:
        raise SystemExit("the command needs --out PATH: the merged output goes there")
    return rest, out


def shard_folder(out: str, index: int, count: int) -> str:
    """Shard `index` of `count`'s own folder beside `out`: its lock, attempts and stderr logs
    and (but for `index`) its output."""
    return str(Path(f"{out}.shards") / f"{index}-of-{count}")


def shard_out(command: str, out: str, index: int, count: int) -> str:
    """Where shard `index` of `count` writes: in its folder, or for `index --dense` the index
    itself (the build keeps each shard's rows in the index's dense.shards/)."""
    if command == "index":
        return out
    return str(Path(shard_folder(out, index, count)) / Path(out).name)


@ray.remote(num_cpus=1)
def run_shard(binary: str, args: list[str], out: str, folder: str, index: int, count: int, cwd: str) -> dict:
    """Runs shard index/count of `binary args --out out` to its end, its logs in `folder`; what
    it did."""
    folder = Path(cwd, folder)
    folder.mkdir(parents=True, exist_ok=True)
    node = ray.get_runtime_context().get_node_id()
    started = time.time()
    with open(folder / "lock", "w") as lock:
        # A process of an earlier attempt (its node lost, the process not yet gone) holds this
        # lock until it exits: the resume starts after it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(folder / "attempts.log", "a") as log:
            log.write(json.dumps({"node": node, "pid": os.getpid(), "at": started}) + "\n")
        with open(folder / "stderr.log", "ab") as err:
            code = subprocess.call(
                [binary, *args, "--out", out, "--shard", f"{index}/{count}"],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                preexec_fn=die_with_parent,
                pass_fds=(lock.fileno(),),
            )
    if code != 0:
        tail = (folder / "stderr.log").read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"shard {index}/{count} exited with {code}: " + " / ".join(tail))
    return {"shard": index, "node": node, "seconds": time.time() - started}


def manifest_counts(path: Path) -> dict:
    try:
        return json.loads(path.read_text()).get("counts", {})
    except (OSError, ValueError):
        return {}


def progress_of(command: str, counts: dict) -> str:
    """A shard's progress from the counts its manifest holds so far."""
    if command == "ramp":
        return f"{counts.get('samples', 0)} samples"
    if command == "trajectories":
        return f"{counts.get('accepted', 0)} accepted, {counts.get('rejected', 0)} rejected"
    if command == "eval":
        return f"{counts.get('written', 0)} of {counts.get('total', '?')} answers"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def run_sharded(binary: str, args: list[str], shards: int, retries: int, cwd: str, say=print) -> dict:
    """Runs `binary args` as `shards` Ray tasks and merges them; the summary."""
    if not args:
        raise SystemExit("which masksearch command? e.g. run --shards 4 -- ramp --passages … --out …")
    command = args[0]
    rest, out = split_out(args)
    outs = [shard_out(command, out, i, shards) for i in range(shards)]
    folders = [shard_folder(out, i, shards) for i in range(shards)]
    for folder in folders:
        # This job's attempts only (a rerun resumes the outputs, not the count of retries).
        Path(cwd, folder, "attempts.log").unlink(missing_ok=True)
    started = time.time()
    refs = {
        run_shard.options(max_retries=retries, scheduling_strategy="SPREAD").remote(
            binary, rest, outs[i], folders[i], i, shards, cwd
        ): i
        for i in range(shards)
    }
    manifest = lambda i: Path(cwd, outs[i] + ("/predictions.jsonl" if command == "eval" else "") + ".manifest.json")
    shown: dict[int, str] = {}
    done: dict[int, dict] = {}
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=2.0)
        for ref in ready:
            try:
                done[refs[ref]] = ray.get(ref)
            except Exception:
                # A shard that failed for good (its command failed, or its retries ran out):
                # the others stop too, each keeping what it wrote for a rerun to resume.
                for other in pending:
                    ray.cancel(other, force=True)
                raise
        changed = False
        for i in range(shards):
            line = progress_of(command, manifest_counts(manifest(i)))
            line += " (done)" if i in done else ""
            if shown.get(i) != line:
                shown[i], changed = line, True
                say(f"  shard {i}/{shards}: {line}")
        if changed:
            say(f"ray: {len(done)}/{shards} shards of {command} done, {time.time() - started:.0f} s")
    if command == "index":
        # The same build without a shard takes every shard's rows and swaps the vectors in.
        merge = [binary, *rest, "--out", out]
    else:
        merge = [binary, "merge", "--out", out, *outs]
    if command == "eval":
        merge += [a for f in REPORT_FLAGS for a in flag_values(rest, f)]
    merging = time.time()
    merged = subprocess.run(merge, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    merge_seconds = time.time() - merging
    if merged.returncode != 0:
        raise RuntimeError(f"merge failed: {merged.stderr.strip()}")
    attempts = {}
    for i in range(shards):
        log = Path(cwd, folders[i]) / "attempts.log"
        attempts[i] = len(log.read_text().splitlines()) if log.exists() else 0
    retried = sum(1 for n in attempts.values() if n > 1)
    nodes = len({d["node"] for d in done.values()})
    summary = {
        "command": command,
        "shards": shards,
        "nodes": nodes,
        "retried": retried,
        "attempts": attempts,
        "seconds": time.time() - started,
        "merge_seconds": merge_seconds,
        "shard_seconds": [round(done[i]["seconds"], 1) for i in range(shards)],
        "counts": {i: shown.get(i, "") for i in range(shards)},
        "merge": merged.stderr.strip().splitlines()[-1] if merged.stderr.strip() else "",
    }
    say(
        f"ray: {command} in {shards} shards on {nodes} nodes ({retried} retried) "
        f"in {summary['seconds']:.1f} s (merge {summary['merge_seconds']:.2f} s); {summary['merge']}"
    )
    return summary


def flag_values(args: list[str], flag: str) -> list[str]:
    """`flag` and its value wherever `args` has it."""
    found = []
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            found += [flag, args[i + 1]]
        elif arg.startswith(flag + "="):
            found.append(arg)
    return found


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class Retriever:
    """`masksearch serve` on this actor's node, on 127.0.0.1; restarted when it dies."""

    def __init__(self, binary: str, args: list[str], port: int, cwd: str):
        self.command = [binary, "serve", *args, "--host", "127.0.0.1", "--port", str(port)]
        self.cwd = cwd
        self.restarts = 0
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=die_with_parent,
        )
        line = self.process.stdout.readline()  # "listening on URL", once the index is open
        if not line.startswith("listening on "):
            code = self.process.wait()
            raise RuntimeError(f"masksearch serve exited with {code} before listening: {shlex.join(self.command)}")
        self.url = line.split("listening on ", 1)[1].strip()

    def health(self) -> dict:
        """Whether the server answers `/health`; a server that exited is started again."""
        if self.process.poll() is not None:
            self.restarts += 1
            self.start()
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                ok = r.status == 200
        except OSError:
            ok = False
        return {"url": self.url, "ok": ok, "restarts": self.restarts, "pid": self.process.pid,
                "actor_pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def start_retrievers(binary: str, args: list[str], port: int, cwd: str) -> dict:
    """One Retriever per alive node, pinned there; node id → actor."""
    actors = {}
    for node in ray.nodes():
        if node["Alive"]:
            strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
            actors[node["NodeID"]] = Retriever.options(scheduling_strategy=strategy).remote(binary, args, port, cwd)
    return actors


def check_retrievers(actors: dict, timeout: float = 30.0) -> dict:
    """Each node's server's health (an actor being restarted by Ray is waited for)."""
    states = {}
    for node, actor in actors.items():
        try:
            states[node] = ray.get(actor.health.remote(), timeout=timeout)
        except (ray.exceptions.RayError, TimeoutError) as e:
            states[node] = {"ok": False, "error": type(e).__name__}
    return states


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def serve_forever(binary: str, args: list[str], port: int, cwd: str, every: float, urls: str | None) -> None:
    """Keeps a server on every node until interrupted (Ctrl-C or SIGTERM), which stops them."""
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    actors = start_retrievers(binary, args, port, cwd)
    last = None
    try:
        while True:
            states = check_retrievers(actors)
            view = {n: (s.get("url"), s["ok"], s.get("restarts")) for n, s in states.items()}
            if view != last:
                for node, s in states.items():
                    print(f"  node {node[:8]}: {s.get('url', '-')} {'ok' if s['ok'] else 'DOWN'}"
                          f" ({s.get('restarts', 0)} restarts)", flush=True)
                if urls:
                    Path(urls).write_text(json.dumps({n: s.get("url") for n, s in states.items()}, indent=1))
                last = view
            time.sleep(every)
    except KeyboardInterrupt:
        for actor in actors.values():
            ray.kill(actor, no_restart=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS", "auto"),
                        help="the Ray cluster (default: RAY_ADDRESS, else the one on this node)")
    parser.add_argument("--bin", default=os.environ.get("MASKSEARCH_BIN", "masksearch"),
                        help="the masksearch binary, at this path on every node")
    sub = parser.add_subparsers(dest="what", required=True)
    run = sub.add_parser("run", help="a ramp, trajectories, eval or index --dense command in shards, then merged")
    run.add_argument("--shards", type=int, required=True)
    run.add_argument("--retries", type=int, default=3, help="tries again per shard whose node died")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- masksearch arguments, --out included")
    serve = sub.add_parser("serve", help="masksearch serve on every node, health-checked")
    serve.add_argument("--port", type=int, default=8000, help="on 127.0.0.1 of every node (0: any free)")
    serve.add_argument("--check-every", type=float, default=5.0)
    serve.add_argument("--urls", help="write each node's server URL here (JSON)")
    # Every other flag of `serve` goes to `masksearch serve` (--index, --retriever, …).
    a, extra = parser.parse_known_args(argv)
    if a.what == "run":
        rest = a.command[1:] if a.command[:1] == ["--"] else a.command
        if extra:
            parser.error(f"unknown flags before --: {' '.join(extra)}")
    else:
        rest = [x for x in extra if x != "--"]
    binary = os.path.abspath(a.bin) if os.sep in a.bin else a.bin
    ray.init(address=a.address, log_to_driver=False)
    if a.what == "run":
        run_sharded(binary, rest, a.shards, a.retries, os.getcwd(), say=lambda s: print(s, flush=True))
    else:
        serve_forever(binary, rest, a.port, os.getcwd(), a.check_every, a.urls)


if __name__ == "__main__":
    main(sys.argv[1:])
