"""faiss-cpu's IndexHNSWFlat over the vectors `cargo bench -p dense --bench hnsw -- N f32 --keep DIR`
left in DIR, measured as that bench measures our graph: build seconds, peak memory, then for each
efSearch the share of the exact top 10 found (overlap@10, against the bench's exact scan), ms per
query on one thread (p50, p99) and queries/s batched on every core.

`--pca D --rerank R` builds the twin of our reduced graph (`-- N i8 --dims D --rerank R`): the
rows' D leading principal components (a `PCAMatrix` trained on 32,768 rows, as ours) in an HNSW
graph of f16 values (`IndexHNSWSQ`, as our graph's nodes), whose R candidates are scored again
with the rows' own values (`IndexRefineFlat`, the rows held in memory in f32).

    .venv/bin/python benches/dense/hnsw_faiss.py DIR [--m 16] [--ef-construction 128]
        [--pca D --rerank R]
"""

import argparse
import pathlib
import resource
import time

import faiss
import numpy as np

DIM = 384
EFS = [16, 32, 64, 128, 256, 512]


def rss_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=128)
    parser.add_argument("--pca", type=int, help="graph of this many principal components")
    parser.add_argument("--rerank", type=int, default=100, help="candidates scored again (--pca)")
    args = parser.parse_args()
    rows = np.fromfile(args.dir / "vectors.bin", dtype="<f4").reshape(-1, DIM)
    queries = np.fromfile(args.dir / "queries.bin", dtype="<f4").reshape(-1, DIM)
    exact = np.fromfile(args.dir / "exact.bin", dtype="<u8").reshape(-1, 10)
    threads = faiss.omp_get_max_threads()
    before = rss_mib()
    started = time.perf_counter()
    # Inner product on unit vectors: cosines, as our graph ranks them.
    if args.pca:
        graph = faiss.IndexHNSWSQ(
            args.pca, faiss.ScalarQuantizer.QT_fp16, args.m, faiss.METRIC_INNER_PRODUCT
        )
        reduced = faiss.IndexPreTransform(faiss.PCAMatrix(DIM, args.pca), graph)
        reduced.train(rows[:: max(1, len(rows) // 32768)][:32768])
        index = faiss.IndexRefineFlat(reduced)
        index.k_factor = args.rerank / 10
        name = f"PCA {args.pca} + IndexHNSWSQ fp16 + IndexRefineFlat (rerank {args.rerank})"
    else:
        graph = index = faiss.IndexHNSWFlat(DIM, args.m, faiss.METRIC_INNER_PRODUCT)
        name = "IndexHNSWFlat"
    graph.hnsw.efConstruction = args.ef_construction
    index.add(rows)
    secs = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"faiss {faiss.__version__} {name}: {len(rows)} rows x {DIM}; M {args.m} "
        f"efConstruction {args.ef_construction} built in {secs:.1f} s on {threads} threads; "
        f"RSS {rss_mib():.0f} MiB (rows in numpy {rows.nbytes / 2**20:.0f} MiB, before the build "
        f"{before:.0f} MiB), peak {peak:.0f} MiB"
    )
    for ef in EFS:
        graph.hnsw.efSearch = ef
        faiss.omp_set_num_threads(1)
        times, found = [], 0
        for query, truth in zip(queries, exact):
            started = time.perf_counter()
            _, ids = index.search(query[None, :], 10)
            times.append((time.perf_counter() - started) * 1e3)
            found += len(set(ids[0].tolist()) & set(truth.tolist()))
        faiss.omp_set_num_threads(threads)
        started = time.perf_counter()
        index.search(queries, 10)
        batched = len(queries) / (time.perf_counter() - started)
        times.sort()
        p = lambda q: times[round((len(times) - 1) * q)]
        print(
            f"  ef {ef:>3}: overlap@10 {found / exact.size:.4f}; one thread p50 {p(0.5):.2f} ms, "
            f"p99 {p(0.99):.2f} ms; batched {batched:.0f} queries/s"
        )


if __name__ == "__main__":
    main()
