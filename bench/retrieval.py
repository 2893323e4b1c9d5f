"""Retrieval latency of the embedded vector store at 100k chunks (384 dimensions).

    .venv/bin/python bench/retrieval.py [--chunks 100000] [--queries 500] [--filter]

Builds the store in a temporary folder, flushes it to disk, reopens it (the way
the gateway loads it), then times single-query searches (top 4): p50/p99/max in ms.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from llm_mesh.kb.store import Chunk
from llm_mesh.kb.stores.embedded import EmbeddedVectorStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--filter", action="store_true", help="also time a metadata-filtered search")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedVectorStore(tmp)
        # Embeddings cluster by topic: a mixture of 2,000 topics with noise (uniform noise is no embedding).
        centers = rng.standard_normal((2000, args.dimensions), dtype=np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
        centers = centers.astype(np.float32)
        noise = np.float32(0.5 / np.sqrt(args.dimensions))  # neighbours at cosine ~0.8, as sentence embeddings
        started = time.perf_counter()
        batch = 10_000
        for start in range(0, args.chunks, batch):
            count = min(batch, args.chunks - start)
            chunks = [Chunk(f"c{start + i}", f"doc{(start + i) // 10}.md", f"text {start + i}", "t", (start + i) % 10,
                            {"lang": "en" if i % 2 else "fr"}) for i in range(count)]
            store.upsert(chunks, centers[rng.integers(0, len(centers), count)] + noise * rng.standard_normal((count, args.dimensions), dtype=np.float32))
        store.flush()
        build = time.perf_counter() - started
        started = time.perf_counter()
        store = EmbeddedVectorStore(tmp)
        load = time.perf_counter() - started
        queries = (centers[rng.integers(0, len(centers), args.queries)]
                   + noise * rng.standard_normal((args.queries, args.dimensions), dtype=np.float32)).astype(np.float32)
        for name, flt in [("plain", None)] + ([("filter lang=en", {"lang": "en"})] if args.filter else []):
            store.search(queries[0], 4, flt)  # warm-up (builds filter columns once)
            timings = []
            for query in queries:
                t0 = time.perf_counter()
                store.search(query, 4, flt)
                timings.append((time.perf_counter() - t0) * 1000)
            timings.sort()
            p = lambda q: timings[min(len(timings) - 1, int(q * len(timings)))]  # noqa: E731
            print(f"{name:15s} chunks={store.count()} dims={args.dimensions} queries={len(timings)} "
                  f"p50={p(0.5):.2f}ms p99={p(0.99):.2f}ms max={timings[-1]:.2f}ms")
        recall = []
        all_rows = np.arange(store._size)
        for query in queries[:100]:
            q = query / np.linalg.norm(query)
            exact = {h.chunk.id for h in store._search_rows(q, 4, all_rows, None)}
            recall.append(len(exact & {h.chunk.id for h in store.search(query, 4)}) / 4)
        print(f"recall@4 vs exact scan: {np.mean(recall):.3f} (index: {'ivf' if store._centroids is not None else 'exact'})")
        print(f"build+flush={build:.1f}s reopen={load:.2f}s")


if __name__ == "__main__":
    main()
