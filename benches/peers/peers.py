"""Peer retrieval servers behind one HTTP shape, the one client that measures them all, and the
supervisor that runs each engine's build and server under the bench's caps.

Run by benches/peers/bench-peers.sh (`make bench-peers`), inside the virtualenv it builds (the
client, the table and the supervisor need only the standard library).

    peers.py serve bm25s-stdlib|bm25s-fastapi|pyserini-fastapi PASSAGES [--pyserini-index DIR]
        prints `listening on http://ADDR` first, then serves POST /retrieve
    peers.py serve faiss-flat|faiss-hnsw PASSAGES --dense DIR
        Search-R1's dense server design over the f32 rows of a masksearch dense folder (FastAPI)
    peers.py serve canned URL    the stdlib server replaying URL's answers (near the client's ceiling)
    peers.py inprocess-bm25s PASSAGES    bm25s (numba) queries/s in-process, no HTTP
    peers.py pyserini-corpus PASSAGES OUT   writes pyserini's JsonCollection input
    peers.py supervise RECORDS NAME build|load -- CMD...
        runs CMD under MEM_CAP_GB and CAP_MINUTES; appends how it went to RECORDS (see `supervise`)
    peers.py measure RESULTS SERVER LABEL URL|- [--built-by NAME|--builds-in-load] [--no-quality]
            [--previous FILE]
        measures one server with both clients; appends its row to RESULTS (`-`: it did not start)
    peers.py table RESULTS RECORDS...   prints the speed table and the build and memory table
    peers.py client NAME=URL... [--no-quality] [--previous FILE]   measures each, prints the table

Every server answers Search-R1's shape: {"result": [[{"document": {"id", "title", "text",
"contents"}, "score"}, ...], ...]} (masksearch with --doc-fields sends fewer fields). Queries are
the shipped question sets (testdata and ../shared/data/benchmarks); quality is the share of
questions whose gold answer string appears in the top-k passages' contents (DPR's top-k
accuracy).

Two clients read the answers. The thin one reads each body by its Content-Length and parses
nothing, so its columns measure the server. The parsing one does what Search-R1's and verl's
clients do with an answer: json.loads it and read every document's `contents`; its columns are
what a trainer's rollout sees, JSON decoding included.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUESTION_FILES = [ROOT / "testdata/hotpotqa_500.jsonl"] + [
    ROOT.parent / "shared/data/benchmarks" / f"{name}.jsonl"
    for name in ["2wiki_500", "musique_500", "bamboogle", "nq-sample"]
]
TOPK = 3
BATCH = 256


def questions():
    """(question, [gold answers]) of every shipped question set present."""
    out = []
    for path in QUESTION_FILES:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                answers = row.get("golden_answers") or [row["answer"]]
                out.append((row["question"], [a for a in answers if a]))
    return out


def passages(path):
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            contents = row.get("original_contents") or f'"{row["title"]}"\n{row["text"]}'
            yield {"id": row["id"], "title": row["title"], "text": row["text"], "contents": contents}


# ---------------------------------------------------------------- engines


class Bm25s:
    """bm25s with the numba backend, English stop words and the Snowball stemmer (its README's setup)."""

    def __init__(self, path):
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.docs = list(passages(path))
        started = time.perf_counter()
        tokens = bm25s.tokenize(
            [d["title"] + " " + d["text"] for d in self.docs],
            stopwords="en",
            stemmer=self.stemmer,
            show_progress=False,
        )
        self.retriever = bm25s.BM25(backend="numba")
        self.retriever.index(tokens, show_progress=False, create_empty_token=True)
        self.build_seconds = time.perf_counter() - started
        self.search(["warm up the numba functions"], TOPK)

    def tokenize(self, queries):
        tokens = self.bm25s.tokenize(
            queries, stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False
        )
        return [t if t else [""] for t in tokens]

    def top(self, tokens, k):
        return self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=os.cpu_count())

    def search(self, queries, k):
        ids, scores = self.top(self.tokenize(queries), k)
        return [
            [(self.docs[i], float(s)) for i, s in zip(row_ids, row_scores)]
            for row_ids, row_scores in zip(ids.tolist(), scores.tolist())
        ]


class Pyserini:
    """pyserini's LuceneSearcher, queried one by one as Search-R1's retrieval_server.py does."""

    def __init__(self, index):
        self.searcher = lucene_searcher_class()(index)

    def search(self, queries, k):
        results = []
        for query in queries:
            hits = self.searcher.search(query, k)
            row = []
            for hit in hits:
                doc = json.loads(self.searcher.doc(hit.docid).raw())
                title, _, text = doc["contents"].partition("\n")
                document = {"id": doc["id"], "title": title.strip('"'), "text": text, "contents": doc["contents"]}
                row.append((document, float(hit.score)))
            results.append(row)
        return results


class Faiss:
    """Search-R1's dense retriever design (its retrieval_server.py): the encoder run by
    transformers on torch (mean pooling, unit vectors, the folder's query prefix, at most 256 word
    pieces as the model's sentence-transformers config says) and a faiss index of the very rows
    `masksearch index --dense` wrote: IndexFlatIP (Search-R1's `e5_Flat.index` is one) or
    IndexHNSWFlat with the graph settings masksearch ships (M 16, efConstruction 128, ef 512)."""

    def __init__(self, path, dense, kind):
        import faiss
        import numpy
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        meta = json.loads((Path(dense) / "meta.json").read_text())
        if meta["storage"] != "f32":
            sys.exit(f"{dense}: faiss is given f32 rows, these are {meta['storage']}")
        self.docs = list(passages(path))
        dim = meta["dim"]
        rows = numpy.fromfile(Path(dense) / "vectors.bin", dtype="<f4").reshape(-1, dim)
        if len(rows) != len(self.docs):
            sys.exit(f"{dense}: {len(rows)} rows for {len(self.docs)} passages")
        if kind == "flat":
            self.index = faiss.IndexFlatIP(dim)
        else:
            self.index = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = 128
        self.index.add(rows)
        if kind == "hnsw":
            self.index.hnsw.efSearch = 512
        torch.set_num_threads(os.cpu_count())
        self.tokenizer = AutoTokenizer.from_pretrained(meta["model"])
        self.model = AutoModel.from_pretrained(meta["model"]).eval()
        self.prefix = meta["query_prefix"]
        self.search(["warm up the encoder"], TOPK)

    def encode(self, queries):
        torch = self.torch
        with torch.inference_mode():
            batch = self.tokenizer(
                [self.prefix + q for q in queries],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            out = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1)
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    def search(self, queries, k):
        scores, ids = self.index.search(self.encode(queries), k)
        return [
            [(self.docs[i], float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
            for row_ids, row_scores in zip(ids.tolist(), scores.tolist())
        ]


def lucene_searcher_class():
    """pyserini's LuceneSearcher, imported without pyserini.search's package files: they import
    the dense searchers, hence torch, which the BM25 server never uses (Search-R1 installs torch
    for its dense retrievers; a BM25-only comparison need not)."""
    import importlib
    import importlib.util
    import types

    root = importlib.util.find_spec("pyserini").submodule_search_locations[0]
    for name in ["search", "search/lucene"]:
        module = types.ModuleType("pyserini." + name.replace("/", "."))
        module.__path__ = [f"{root}/{name}"]
        sys.modules[module.__name__] = module
    base = importlib.import_module("pyserini.search._base")
    vars(sys.modules["pyserini.search"]).update({k: v for k, v in vars(base).items() if not k.startswith("__")})
    return importlib.import_module("pyserini.search.lucene._searcher").LuceneSearcher


def answer(engine, queries, k, return_scores):
    results = engine.search(queries, k or TOPK)
    if return_scores:
        return {"result": [[{"document": d, "score": s} for d, s in row] for row in results]}
    return {"result": [[d for d, _ in row] for row in results]}


def serve_stdlib(engine):
    """bm25s behind the standard library's server: the body decoded, searched, encoded."""

    def respond(body):
        request = json.loads(body)
        result = answer(engine, request["queries"], request.get("topk"), request.get("return_scores"))
        return json.dumps(result).encode()

    serve_http(respond)


def serve_canned(url):
    """Near the client's ceiling: the same stdlib server answering each request with bytes
    recorded from `url` at start, so the server does no search and no JSON."""
    serve_http(canned_answers(url).__getitem__)


def serve_http(respond):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
        disable_nagle_algorithm = True

        def do_POST(self):
            data = respond(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


def serve_fastapi(engine):
    import uvicorn
    from fastapi import FastAPI

    from pydantic import BaseModel

    class QueryRequest(BaseModel):
        queries: list
        topk: int = None
        return_scores: bool = False

    app = FastAPI()

    # As Search-R1's retrieval_server.py: a synchronous endpoint (FastAPI runs it on its thread
    # pool), a pydantic request model, the answer returned as a dict FastAPI encodes.
    @app.post("/retrieve")
    def retrieve(request: QueryRequest):
        return answer(engine, request.queries, request.topk, request.return_scores)

    # A TCP socket by protocol number, as uvicorn's own binding makes: asyncio turns Nagle's
    # algorithm off only on connections of such a socket (uvloop on every one). With a plain
    # socket.socket(), every answer on the asyncio loop waited out the client's 40 ms delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


# ---------------------------------------------------------------- client


class Client:
    """HTTP/1.1 keep-alive on one socket, as thin as Python allows: a request is one prepared
    write and a response is read by its Content-Length, so the thin client's loops measure the
    server, not the client's HTTP and JSON code, and the parsing client's add only what it does
    with the body (every server gets the same client)."""

    def __init__(self, url):
        parsed = urllib.parse.urlparse(url)
        self.host = f"{parsed.hostname}:{parsed.port}".encode()
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = bytearray()

    def retrieve(self, queries, k=TOPK):
        return json.loads(self.post(request_body(queries, k)))["result"]

    def prepare(self, body):
        """The bytes of a POST /retrieve carrying `body`: headers and body in one write."""
        head = (
            b"POST /retrieve HTTP/1.1\r\nHost: " + self.host
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n"
        )
        return head + body

    def post(self, body):
        return self.send(self.prepare(body))

    def send(self, request):
        """Sends a prepared request; the response body (status 200 asserted)."""
        self.sock.sendall(request)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self.receive()
        head = bytes(data[:end]).split(b"\r\n")
        assert head[0].split()[1] == b"200", head
        lengths = [v for n, _, v in (h.partition(b":") for h in head[1:]) if n.lower() == b"content-length"]
        assert lengths, f"no Content-Length: {head}"
        length = int(lengths[0])
        body_start = end + 4
        while len(data) < body_start + length:
            data += self.receive()
        body = bytes(data[body_start : body_start + length])
        self.pending = data[body_start + length :]
        return body

    def receive(self):
        chunk = self.sock.recv(1 << 20)
        assert chunk, "the server closed the connection"
        return chunk


def batches(texts):
    return [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]


def request_body(queries, k):
    return json.dumps({"queries": queries, "topk": k, "return_scores": True}).encode()


def canned_answers(url):
    """Every request `measure` sends, with the bytes the server at `url` answers it with."""
    upstream = Client(url)
    texts = [q for q, _ in questions()]
    bodies = [request_body(batch, k) for k in (10, TOPK) for batch in batches(texts)]
    bodies += [request_body([q], TOPK) for q in texts]
    return {body: upstream.post(body) for body in bodies}


def read_nothing(body):
    """The thin client: the body was read by its length; nothing else."""


def read_contents(body):
    """The parsing client: every answer decoded, every document's `contents` read, as Search-R1's
    `_passages2string` and verl's search tool do."""
    return [hit["document"]["contents"] for hits in json.loads(body)["result"] for hit in hits]


CLIENTS = {"thin": read_nothing, "parsing": read_contents}


def batched_rate(client, requests, seconds, read):
    """Queries/s sending `requests` (batches) in turn for `seconds`, each answer handed to `read`,
    and the microseconds a query that `read` took (the client's own part of the rate). The clock
    is checked after every request: one pass over every batch can take minutes on a large
    corpus."""
    done = 0
    reading = 0.0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for request, n in requests:
            body = client.send(request)
            t = time.perf_counter()
            read(body)
            reading += time.perf_counter() - t
            done += n
            if time.perf_counter() - started >= seconds:
                break
    return done / (time.perf_counter() - started), 1e6 * reading / done


def timed(client, requests, singles, seconds, read):
    """Batched queries/s over `requests`, then one-query requests/s and latency over `singles`,
    each loop `seconds` long, every answer handed to `read`."""
    batched, read_us = batched_rate(client, requests, seconds, read)
    latencies = []
    started = time.perf_counter()
    for request in singles:
        if time.perf_counter() - started > seconds:
            break
        t = time.perf_counter()
        read(client.send(request))
        latencies.append(time.perf_counter() - t)
    latencies.sort()
    return {
        "batched": batched,
        "read_us": read_us,
        "sequential": len(latencies) / sum(latencies),
        "p50_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def measure(url, qs, seconds, quality=True, previous=None):
    """One server's row: each client's rates and latencies, and (with `quality`) the share of
    questions answered in the top 1 / 3 / 10 and the top-10 overlap with `previous`."""
    client = Client(url)
    texts = [q for q, _ in qs]
    batched_texts = batches(texts)
    row = {"quality": None}
    if quality:
        # One batch at a time, parsed; a separate pass, so the timed loops parse only as their
        # client does.
        top = []
        for batch in batched_texts:
            top += client.retrieve(batch, 10)
        row["quality"] = {
            "top": [accuracy(top, qs, k) for k in (1, 3, 10)],
            "overlap": overlap(top, previous, 10) if previous else None,
        }
    requests = [(client.prepare(request_body(batch, TOPK)), len(batch)) for batch in batched_texts]
    assert len(json.loads(client.send(requests[0][0]))["result"]) == requests[0][1]
    singles = [client.prepare(request_body([q], TOPK)) for q in texts]
    # Untimed first: a server just started has a cold page cache and, in a JVM, cold code; the
    # first column measured would pay for it (pyserini's p99 was 7× its warm one).
    batched_rate(client, requests, seconds, read_nothing)
    for kind, read in CLIENTS.items():
        row[kind] = timed(client, requests, singles, seconds, read)
    return row


def accuracy(top, qs, k):
    def has(hits, answers):
        text = " ".join(h["document"]["contents"].lower() for h in hits[:k])
        return any(a.lower() in text for a in answers)

    return sum(has(hits, answers) for hits, (_, answers) in zip(top, qs)) / len(qs)


def overlap(top, previous, k):
    same = total = 0
    for hits, ids in zip(top, previous):
        ours = {h["document"]["id"] for h in hits[:k]}
        same += len(ours & set(ids[:k]))
        total += len(ids[:k])
    return same / max(total, 1)


def bench_seconds():
    return float(os.environ.get("BENCH_SECONDS", "10"))


def quality_options(args):
    """`args` without --no-quality and --previous FILE; whether to measure quality; the previous
    engine's top-10 ids (or None)."""
    quality = "--no-quality" not in args
    args = [a for a in args if a != "--no-quality"]
    previous = None
    if "--previous" in args:
        i = args.index("--previous")
        previous = [json.loads(l)["ids"] for l in Path(args[i + 1]).read_text().splitlines()]
        args = args[:i] + args[i + 2 :]
    return args, quality, previous


def print_speed(rows):
    """The table of both clients' columns for every row ({"label", "failed", "thin",
    "parsing", "quality"}); ratios are to the first row."""
    qs = questions()
    print(
        f"{len(qs)} questions, batches of {BATCH}, topk {TOPK}, {bench_seconds():.0f} s per column per server"
        " (thin client: answers read by length; parsing client: json.loads and every document's contents)"
    )
    with_quality = any(r.get("quality") for r in rows)
    head = "| server |"
    for kind in CLIENTS:
        head += f" {kind}: batched queries/s | {kind}: sequential requests/s | {kind}: p50 / p99 ms |"
    head += " parsing: µs decoding a query's answer (batched) |"
    if with_quality:
        head += " answer in top 1 / 3 / 10 | top-10 overlap with the previous engine |"
    print()
    print(head)
    print("|---" * head.count(" |") + "|")
    base = next((r for r in rows if not r.get("failed")), None)
    for r in rows:
        cells = [r["label"]]
        if r.get("failed"):
            cells += [r["failed"]] + ["–"] * (3 * len(CLIENTS))
        else:
            for kind in CLIENTS:
                m, b = r[kind], base[kind]
                cells += [
                    f"{m['batched']:,.0f} (×{b['batched'] / m['batched']:.2f})",
                    f"{m['sequential']:,.0f} (×{b['sequential'] / m['sequential']:.2f})",
                    f"{m['p50_ms']:.2f} / {m['p99_ms']:.2f}",
                ]
            cells.append(f"{r['parsing']['read_us']:.1f}")
        if with_quality:
            q = r.get("quality")
            cells += [
                " / ".join("%.1f %%" % (100 * a) for a in q["top"]) if q else "–",
                f"{100 * q['overlap']:.1f} %" if q and q["overlap"] is not None else "–",
            ]
        print("| " + " | ".join(cells) + " |")
    if base:
        print(f"\n(×N: how many times {base['label']}'s rate is this row's)")


def client(args):
    args, quality, previous = quality_options(args)
    qs = questions()
    rows = []
    for arg in args:
        name, url = arg.split("=", 1)
        print(f"  measuring {name} …", file=sys.stderr, flush=True)
        rows.append({"label": name, **measure(url, qs, bench_seconds(), quality, previous)})
    print_speed(rows)


def measure_one(args):
    """`measure RESULTS SERVER LABEL URL|- [--built-by NAME|--builds-in-load] [options]`: appends
    one row. --built-by: the server serves the index NAME's build made; --builds-in-load: it
    builds its index as it starts."""
    args, quality, previous = quality_options(args)
    built_by = None
    if "--built-by" in args:
        i = args.index("--built-by")
        built_by = args[i + 1]
        args = args[:i] + args[i + 2 :]
    builds_in_load = "--builds-in-load" in args
    args = [a for a in args if a != "--builds-in-load"]
    results, server, label, url = args
    row = {"server": server, "label": label, "built_by": built_by, "builds_in_load": builds_in_load, "failed": None}
    if url == "-":
        row["failed"] = "did not start"
    else:
        print(f"  measuring {label} …", file=sys.stderr, flush=True)
        try:
            row.update(measure(url, questions(), bench_seconds(), quality, previous))
        except (OSError, AssertionError, ValueError) as e:
            # A server that dies under the client (killed at the memory cap) is a row, not the
            # end of the bench.
            row["failed"] = f"failed while measured: {e!r}"
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")


# ---------------------------------------------------------------- builds, loads and their caps


def meminfo_mb(field):
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def memory_cap_mb():
    """MEM_CAP_GB, or the machine's memory less 2 GB: a process is stopped there, before the
    kernel's OOM killer would have to pick one (possibly someone else's)."""
    if os.environ.get("MEM_CAP_GB"):
        return float(os.environ["MEM_CAP_GB"]) * 1024
    return meminfo_mb("MemTotal") - 2048


def resident_mb(pid):
    """(VmRSS, VmHWM) of `pid` in MB, (0, 0) once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    kb = lambda name: int(fields.get(name, "0 kB").split()[0])
    return kb("VmRSS") / 1024, kb("VmHWM") / 1024


def gb(mb):
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def first_in_line_for_oom():
    """Makes the command the kernel's first choice should memory run out anyway."""
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


def supervise(args):
    """`supervise RECORDS NAME STEP -- CMD...`: runs CMD, stopping it past the memory cap
    (`memory_cap_mb`) or past CAP_MINUTES (default 60) without finishing (a build) or without
    printing `listening on` (a server's load), and appends to RECORDS what happened as
    {"name", "step", "ok", "why", "seconds", "peak_mb"}. A server goes on being watched after its
    load; on SIGTERM its resident memory then is recorded (step "serve", "rss_mb") and it is
    stopped. CMD's stdout is passed through. Exits 0 when CMD did what STEP asks.

    Build and load peaks are the process's own high-water mark: every engine here builds or
    serves in one process (pyserini's JVM runs inside its Python server)."""
    records, name, step = args[:3]
    cmd = args[args.index("--") + 1 :]
    cap_mb = memory_cap_mb()
    limit = float(os.environ.get("CAP_MINUTES", "60")) * 60

    def record(**fields):
        with open(records, "a") as f:
            f.write(json.dumps({"name": name, **fields}) + "\n")

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, preexec_fn=first_in_line_for_oom)
    ready = threading.Event()

    def forward():
        for line in child.stdout:
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            if line.startswith(b"listening on "):
                ready.set()

    threading.Thread(target=forward, daemon=True).start()
    why = None
    loaded = False
    peak = 0.0
    while True:
        # wait4, not Popen.poll: it also gives the kernel's high-water mark of the child's
        # memory, exact even for a peak between two polls.
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        rss, hwm = resident_mb(child.pid)
        peak = max(peak, hwm)
        elapsed = time.perf_counter() - started
        if ready.is_set() and not loaded:
            loaded = True
            record(step=step, ok=True, why=None, seconds=elapsed, peak_mb=peak)
        if why is None and rss > cap_mb:
            why = f"killed at {gb(rss)} (the cap is {gb(cap_mb)})"
            child.kill()
        elif why is None and not loaded and elapsed > limit:
            why = f"stopped after {elapsed / 60:.0f} min (the cap is {limit / 60:.0f} min)"
            child.kill()
        elif why is None and stopping.is_set():
            # Stopped by the bench: a server after its runs (its memory then is a result), or
            # anything the bench no longer waits for (interrupted: nothing to record).
            if loaded:
                record(step="serve", ok=True, why=None, seconds=elapsed, peak_mb=peak, rss_mb=rss)
            child.terminate()
            child.wait()
            return 0 if loaded else 1
        stopping.wait(0.2)
    child.returncode = os.waitstatus_to_exitcode(status)
    peak = max(peak, usage.ru_maxrss / 1024)
    seconds = time.perf_counter() - started
    code = child.returncode
    if why is None and code == 0 and step == "build":
        record(step=step, ok=True, why=None, seconds=seconds, peak_mb=peak)
        return 0
    if why is None:
        if code == -signal.SIGKILL:
            why = f"killed (SIGKILL, the kernel's OOM killer?) at a peak of {gb(peak)}"
        elif code < 0:
            why = f"killed by signal {-code} at a peak of {gb(peak)}"
        else:
            why = f"exited with status {code} (see its log)"
    record(step="serve" if loaded else step, ok=False, why=why, seconds=seconds, peak_mb=peak)
    return 1


def last_records(paths):
    """The last record of each (name, step) in the files `supervise` wrote: a later run's
    replaces an earlier one's (an index kept from an earlier run keeps the record of its build)."""
    out = {}
    for path in map(Path, paths):
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    out[(r["name"], r["step"])] = r
    return out


def explain_failures(rows, records):
    """Says, for each row whose server did not start or died, why: its build's, load's or
    serving's record."""
    for r in rows:
        if not r.get("failed"):
            continue
        build = records.get((r.get("built_by"), "build"))
        load = records.get((r["server"], "load"))
        serve = records.get((r["server"], "serve"))
        if build and not build["ok"]:
            r["failed"] = f"did not build: {build['why']}"
        elif load and not load["ok"]:
            r["failed"] = f"did not load: {load['why']}"
        elif serve and not serve["ok"]:
            r["failed"] = f"died: {serve['why']}"


def print_engines(rows, records):
    print()
    print("| server | index build | peak RSS (build) | load (start to listening) | peak RSS (load) | server RSS after the runs (peak) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        build = records.get((r.get("built_by"), "build"))
        load = records.get((r["server"], "load"))
        serve = records.get((r["server"], "serve"))
        if r.get("builds_in_load"):
            build_cells = ["in its load", "in its load"]
        elif not r.get("built_by"):
            build_cells = ["–", "–"]
        elif build and build["ok"]:
            build_cells = [f"{build['seconds']:.1f} s", gb(build["peak_mb"])]
        else:
            build_cells = [build["why"] if build else "–", gb(build["peak_mb"]) if build else "–"]
        if not load:
            load_cells = ["–", "–"]
        else:
            load_cells = [f"{load['seconds']:.1f} s" if load["ok"] else load["why"], gb(load["peak_mb"])]
        if not serve:
            serving = "–"
        elif serve["ok"]:
            serving = f"{gb(serve['rss_mb'])} ({gb(serve['peak_mb'])})"
        else:
            serving = serve["why"]
        print("| " + " | ".join([r["label"], *build_cells, *load_cells, serving]) + " |")


def table(results, record_paths):
    rows = [json.loads(l) for l in Path(results).read_text().splitlines() if l.strip()]
    records = last_records(record_paths)
    explain_failures(rows, records)
    print_speed(rows)
    print_engines(rows, records)


def inprocess_bm25s(path):
    engine = Bm25s(path)
    texts = [q for q, _ in questions()]
    batched = batches(texts)

    def rate(step):
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < 4:
            for batch in batched:
                done += len(step(batch))
        return done / (time.perf_counter() - started)

    whole = rate(lambda batch: engine.search(batch, TOPK))
    tokenized = [engine.tokenize(batch) for batch in batched]
    index = iter(range(10**9))
    scoring = rate(lambda batch: engine.top(tokenized[next(index) % len(batched)], TOPK)[0])
    print(
        f"bm25s (numba) in-process, batches of {BATCH}, topk {TOPK}: {whole:,.0f} queries/s with tokenising "
        f"and documents, {scoring:,.0f} queries/s scoring pre-tokenised queries; index built in {engine.build_seconds:.1f} s"
    )


def pyserini_corpus(path, out):
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / "docs.jsonl", "w") as f:
        for d in passages(path):
            f.write(json.dumps({"id": d["id"], "contents": d["contents"]}) + "\n")


def main():
    args = sys.argv[1:]
    if args[0] == "serve":
        kind, path = args[1], args[2]
        if kind == "pyserini-fastapi":
            serve_fastapi(Pyserini(args[args.index("--pyserini-index") + 1]))
        elif kind == "bm25s-stdlib":
            serve_stdlib(Bm25s(path))
        elif kind == "bm25s-fastapi":
            serve_fastapi(Bm25s(path))
        elif kind in ("faiss-flat", "faiss-hnsw"):
            dense = args[args.index("--dense") + 1]
            serve_fastapi(Faiss(path, dense, kind.removeprefix("faiss-")))
        elif kind == "canned":
            serve_canned(path)
        else:
            sys.exit(f"unknown server {kind}")
    elif args[0] == "client":
        client(args[1:])
    elif args[0] == "measure":
        measure_one(args[1:])
    elif args[0] == "table":
        table(args[1], args[2:])
    elif args[0] == "supervise":
        sys.exit(supervise(args[1:]))
    elif args[0] == "inprocess-bm25s":
        inprocess_bm25s(args[1])
    elif args[0] == "pyserini-corpus":
        pyserini_corpus(args[1], args[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
