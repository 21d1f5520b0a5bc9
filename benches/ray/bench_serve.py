"""One retrieval address for every rollout worker through Ray Serve, against `masksearch serve`
asked directly, as `integrations/ray` places it beside each node's rollouts (`make bench-ray-serve`).

On a local Ray cluster (a head that runs nothing, one worker node with 2 CPUs, every process on
127.0.0.1) a Ray Serve deployment answers POST /retrieve on its own port (not Serve's default
8000) by handing each request to a `masksearch serve` that its replica started on the node
(`max_ongoing_requests` raised from Serve's default of 5 to 512). The same server is then asked
directly and through Serve, with the peer bench's client (benches/peers/peers.py: batches of 256
and one question at a time, each answer read by length or parsed) and with 16 clients at once,
one question a request, as a node's rollout workers send them. Prints a Markdown table and the
resident memory of Ray Serve's processes.

    target/ray-serve-venv/bin/python benches/ray/bench_serve.py --bin target/release/masksearch

Needs `make demo`'s work/index.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "integrations/ray"))
sys.path.insert(0, str(REPO / "benches/peers"))
import local_cluster  # noqa: E402  (first: it sets Ray up for loopback)
import aiohttp  # noqa: E402  (Ray Serve's own dependency)
import peers  # noqa: E402
import psutil  # noqa: E402  (Ray's own dependency)
import ray  # noqa: E402
from masksearch_ray import die_with_parent  # noqa: E402
from ray import serve  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402

DIRECT_PORT = 18821
SERVE_PORT = 18822
REPLICA_PORT = 18823
CONCURRENT = 16


def start_server(binary, index, port, seconds=60):
    """`masksearch serve` of `index` on 127.0.0.1:`port`, once it answers /health."""
    process = subprocess.Popen(
        [binary, "serve", "--index", index, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent,
    )
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"masksearch serve exited: {process.stderr.read().strip()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"masksearch serve on port {port} did not answer /health within {seconds} s")


@serve.deployment(max_ongoing_requests=512, ray_actor_options={"num_cpus": 0})
class Retrieve:
    """Hands each request's body to the `masksearch serve` this replica started on its node."""

    def __init__(self, binary, index, port):
        self.server = start_server(binary, index, port)
        self.url = f"http://127.0.0.1:{port}/retrieve"
        self.session = None

    async def __call__(self, request: Request) -> Response:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        body = await request.body()
        async with self.session.post(self.url, data=body, headers={"Content-Type": "application/json"}) as answer:
            return Response(await answer.read(), status_code=answer.status, media_type="application/json")

    def __del__(self):
        self.server.terminate()


def concurrent_rate(url, texts, seconds):
    """Requests/s of CONCURRENT clients, each sending one question a request for `seconds`, and
    the p50 / p99 of a request in ms."""
    latencies = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(offset):
        c = peers.Client(url)
        mine = []
        i = offset
        while time.perf_counter() < stop:
            request = c.prepare(peers.request_body([texts[i % len(texts)]], peers.TOPK))
            t = time.perf_counter()
            peers.read_contents(c.send(request))
            mine.append(time.perf_counter() - t)
            i += CONCURRENT
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "rate": len(latencies) / wall,
        "p50_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def ray_serve_rss_mb():
    """Resident memory of Ray Serve's processes (its controller, proxies and replica), MB."""
    total = 0
    for p in psutil.process_iter(["cmdline", "memory_info"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "ServeController" in cmd or "ProxyActor" in cmd or "ServeReplica" in cmd:
            total += p.info["memory_info"].rss
    return total / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=str(REPO / "target/release/masksearch"))
    parser.add_argument("--index", default=str(REPO / "work/index"))
    parser.add_argument("--seconds", type=float, default=peers.bench_seconds())
    a = parser.parse_args()
    binary, index = str(Path(a.bin).resolve()), str(Path(a.index).resolve())
    if not Path(index, "masksearch-index.json").exists():
        sys.exit(f"bench_serve: no index at {index} (make demo builds work/index; or --index DIR)")
    qs = peers.questions()
    texts = [q for q, _ in qs]
    with tempfile.TemporaryDirectory() as tmp:
        cluster, _ = local_cluster.start(os.path.join(tmp, "ray"), workers=1, cpus=2)
        direct = start_server(binary, index, DIRECT_PORT)
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": SERVE_PORT})
            serve.run(Retrieve.bind(binary, index, REPLICA_PORT), route_prefix="/retrieve")
            routes = {
                "`masksearch serve`, asked directly": f"http://127.0.0.1:{DIRECT_PORT}",
                "the same server behind Ray Serve (proxy, then replica)": f"http://127.0.0.1:{SERVE_PORT}",
            }
            rows = []
            for label, url in routes.items():
                row = peers.measure(url, qs, a.seconds, quality=False)
                row["label"] = label
                row["concurrent"] = concurrent_rate(url, texts, a.seconds)
                rows.append(row)
            rss = ray_serve_rss_mb()
            serve.shutdown()
        finally:
            direct.terminate()
            local_cluster.stop(cluster)
    print(f"{len(texts)} questions, batches of {peers.BATCH}, topk {peers.TOPK}, {a.seconds:.0f} s a column, ray {ray.__version__}")
    print()
    print("| route | batched q/s (thin / parsing) | one at a time: requests/s (thin / parsing) | p50 / p99 ms (parsing) "
          f"| {CONCURRENT} clients at once, one question a request: requests/s | p50 / p99 ms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        t, p, c = r["thin"], r["parsing"], r["concurrent"]
        print(f"| {r['label']} | {t['batched']:,.0f} / {p['batched']:,.0f} | {t['sequential']:,.0f} / {p['sequential']:,.0f} "
              f"| {p['p50_ms']:.2f} / {p['p99_ms']:.2f} | {c['rate']:,.0f} | {c['p50_ms']:.2f} / {c['p99_ms']:.2f} |")
    print()
    print(f"Ray Serve's processes (controller, proxies, replica) held {rss:,.0f} MB resident after the runs.")


if __name__ == "__main__":
    main()
