"""Peer retrieval servers behind one HTTP shape, and the one client that measures them all.

Run by benches/peers/bench-peers.sh (`make bench-peers`), inside the virtualenv it builds.

    peers.py serve bm25s-stdlib|bm25s-fastapi|pyserini-fastapi PASSAGES [--pyserini-index DIR]
        prints `listening on http://ADDR` first, then serves POST /retrieve
    peers.py serve canned URL    the stdlib server replaying URL's answers (near the client's ceiling)
    peers.py inprocess-bm25s PASSAGES    bm25s (numba) queries/s in-process, no HTTP
    peers.py pyserini-corpus PASSAGES OUT   writes pyserini's JsonCollection input
    peers.py client NAME=URL... [--previous FILE]   prints the table

Every server answers Search-R1's shape: {"result": [[{"document": {"id", "title", "text",
"contents"}, "score"}, ...], ...]}. Queries are the shipped question sets (testdata and
../shared/data/benchmarks); quality is the share of questions whose gold answer string appears
in the top-k passages' contents (DPR's top-k accuracy).
"""

import json
import os
import socket
import statistics
import sys
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

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


# ---------------------------------------------------------------- client


class Client:
    """HTTP/1.1 keep-alive on one socket, as thin as Python allows: a request is one prepared
    write and a response is read by its Content-Length, so the timed loops measure the server,
    not the client's HTTP and JSON code (every server gets the same client)."""

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


def measure(url, qs, seconds):
    client = Client(url)
    texts = [q for q, _ in qs]
    batched_texts = batches(texts)
    # Quality and the top-k ids, one batch at a time (parsed; the timed loops parse nothing).
    top = []
    for batch in batched_texts:
        top += client.retrieve(batch, 10)
    requests = [(client.prepare(request_body(batch, TOPK)), len(batch)) for batch in batched_texts]
    assert len(json.loads(client.send(requests[0][0]))["result"]) == requests[0][1]
    batched = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for request, n in requests:
            client.send(request)
            batched += n
    batched_rate = batched / (time.perf_counter() - started)
    singles = [client.prepare(request_body([q], TOPK)) for q in texts]
    latencies = []
    started = time.perf_counter()
    for request in singles:
        if time.perf_counter() - started > seconds:
            break
        t = time.perf_counter()
        client.send(request)
        latencies.append(time.perf_counter() - t)
    latencies.sort()
    return {
        "batched": batched_rate,
        "sequential": len(latencies) / sum(latencies),
        "p50_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
        "top": top,
    }


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


def client(args):
    previous = None
    if "--previous" in args:
        i = args.index("--previous")
        previous = [json.loads(l)["ids"] for l in Path(args[i + 1]).read_text().splitlines()]
        args = args[:i] + args[i + 2 :]
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    qs = questions()
    print(f"{len(qs)} questions, batches of {BATCH}, topk {TOPK}, {seconds:.0f} s per column per server", flush=True)
    rows = []
    for arg in args:
        name, url = arg.split("=", 1)
        print(f"  measuring {name} …", file=sys.stderr, flush=True)
        rows.append((name, measure(url, qs, seconds)))
    base = dict(rows)[rows[0][0]]
    print()
    print("| server | batched queries/s | sequential requests/s | p50 / p99 ms (client) | answer in top 1 / 3 / 10 | top-10 overlap with the previous engine |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        ratio_b = base["batched"] / r["batched"]
        ratio_s = base["sequential"] / r["sequential"]
        ov = f"{100 * overlap(r['top'], previous, 10):.1f} %" if previous else "–"
        tops = " / ".join("%.1f %%" % (100 * accuracy(r["top"], qs, k)) for k in (1, 3, 10))
        print(
            f"| {name} | {r['batched']:,.0f} (×{ratio_b:.2f}) | {r['sequential']:,.0f} (×{ratio_s:.2f}) "
            f"| {r['p50_ms']:.2f} / {r['p99_ms']:.2f} "
            f"| {tops} | {ov} |"
        )
    print(f"\n(×N: how many times the first row's rate is this row's)")


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
        elif kind == "canned":
            serve_canned(path)
        else:
            sys.exit(f"unknown server {kind}")
    elif args[0] == "client":
        client(args[1:])
    elif args[0] == "inprocess-bm25s":
        inprocess_bm25s(args[1])
    elif args[0] == "pyserini-corpus":
        pyserini_corpus(args[1], args[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
