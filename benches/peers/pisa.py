"""PISA, the C++ engine behind the scale issue's anchors (block-max WAND and MaxScore over
compressed lists), in-process through pyterrier-pisa: builds its index over a passages JSONL once,
then answers the shipped questions in batches on two threads and one at a time.

Run by benches/peers/bench-pisa.sh (`make bench-pisa`), inside the virtualenv it builds.

    pisa.py PASSAGES INDEX_DIR

Set up as close to masksearch's English analyzer as PISA allows: Snowball English stems
(`porter2`), Lucene's English stop words (tantivy's list), BM25 with tantivy's k1 1.2 and b 0.75,
topk 3. Unlike masksearch it indexes each passage's `contents` as one field (title and text
together, as bm25s and pyserini do) and keeps exact document lengths, so its ranking is close to
tantivy's, not the same.
"""

import os
import re
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from pyterrier_pisa import PisaIndex

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (the shared passages reader and question sets)

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))


def timed(retrieve, queries):
    started = time.perf_counter()
    retrieve(queries)
    return time.perf_counter() - started


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, out = sys.argv[1], sys.argv[2]
    settings = dict(text_field="text", stemmer="porter2", stops="lucene", threads=2)
    index = PisaIndex(out, **settings)
    if index.built():
        print(f"pisa: index {out} kept from an earlier run")
    else:
        index = PisaIndex(out, overwrite=True, **settings)  # what a stopped build left goes
        started = time.perf_counter()
        index.index({"docno": d["id"], "text": d["contents"]} for d in peers.passages(path))
        print(
            f"pisa: indexed {path} in {time.perf_counter() - started:.1f} s, "
            f"peak RSS {peers.resident_mb(os.getpid())[1]:,.0f} MB"
        )
    # PISA's query parser reads `id:terms`; punctuation splits words for both engines anyway.
    texts = [re.sub(r"[^\w\s]", " ", q) for q, _ in peers.questions()]
    queries = pd.DataFrame({"qid": [str(i) for i in range(len(texts))], "query": texts})
    nothing = pd.DataFrame({"qid": ["0"], "query": ["zzqxjv"]})
    for algorithm in ["maxscore", "block_max_wand"]:
        bm25 = lambda threads: index.bm25(
            k1=1.2, b=0.75, num_results=peers.TOPK, threads=threads, query_algorithm=algorithm
        )
        batched = bm25(2)
        batched(queries.head(50))
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < SECONDS:
            for at in range(0, len(queries), peers.BATCH):
                batch = queries.iloc[at : at + peers.BATCH]
                batched(batch)
                done += len(batch)
        rate = done / (time.perf_counter() - started)
        alone = bm25(1)
        took = sorted(timed(alone, queries.iloc[i : i + 1]) for i in range(len(queries)))
        # The wrapper's own cost of a call: a query of one word no passage has.
        wrapper = min(timed(alone, nothing) for _ in range(200))
        print(
            f"pisa {algorithm}: {len(queries)} questions, topk {peers.TOPK} — batched {rate:,.0f} queries/s "
            f"(batches of {peers.BATCH}, 2 threads), one at a time p50 {statistics.median(took) * 1e3:.3f} ms, "
            f"p99 {took[int(0.99 * (len(took) - 1))] * 1e3:.3f} ms (of which the Python wrapper's call "
            f"{wrapper * 1e3:.3f} ms), RSS {peers.resident_mb(os.getpid())[0]:,.0f} MB"
        )


if __name__ == "__main__":
    main()
