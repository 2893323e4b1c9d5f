"""The embedded vector store: one numpy matrix of normalised float32 vectors.

Persisted under ``.mesh/kb/<name>/`` as ``vectors.npy`` (N x D float32) and
``chunks.jsonl`` (one chunk per row, same order), written atomically by
``flush()``. Loaded once; a search is one matrix-vector product plus an
``argpartition`` (about 5 ms at 100k x 384 on one core; bench/retrieval.py).
Another process's flush (``mesh kb ingest`` while the gateway runs) is picked
up by the next search: a stat of ``state.json`` per search, nothing more.
Deleted rows are masked until the next flush compacts them.

Above ``IVF_MIN_ROWS`` chunks, ``flush()`` also clusters the rows (spherical
k-means, about sqrt(N) lists) and stores them grouped by cluster, so a search
scores the centroids and then only the ``nprobe`` closest clusters' contiguous
slices (an inverted file index): about a tenth of the matrix. Rows written since
the last flush are always scanned exactly; a filtered search that finds fewer
than k rows in the probed clusters falls back to the exact scan.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from llm_mesh.kb.store import Chunk, Filter, Hit

_VECTORS, _CHUNKS, _STATE, _IVF = "vectors.npy", "chunks.jsonl", "state.json", "ivf.npz"
IVF_MIN_ROWS = 20_000


def kmeans(matrix: np.ndarray, lists: int, iterations: int = 6, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means on normalised rows: (centroids, assignment of each row)."""
    rng = np.random.default_rng(seed)
    sample = matrix[rng.choice(matrix.shape[0], size=min(matrix.shape[0], lists * 64), replace=False)]
    centroids = sample[rng.choice(sample.shape[0], size=lists, replace=False)].copy()
    for _ in range(iterations):
        labels = np.argmax(sample @ centroids.T, axis=1)
        for c in range(lists):
            members = sample[labels == c]
            if len(members):
                centroids[c] = members.sum(axis=0)
        centroids = normalise(centroids)
    assignment = np.empty(matrix.shape[0], dtype=np.int32)
    for start in range(0, matrix.shape[0], 8192):
        assignment[start : start + 8192] = np.argmax(matrix[start : start + 8192] @ centroids.T, axis=1)
    return centroids, assignment


def normalise(vectors: Any) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


class EmbeddedVectorStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.RLock()
        self.dimensions: int | None = None
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._size = 0
        self._chunks: list[Chunk] = []
        self._alive = np.zeros(0, dtype=bool)
        self._rows: dict[str, int] = {}
        self._by_source: dict[str, list[int]] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._dirty = False
        self._loaded_stamp: float | None = None
        self._centroids: np.ndarray | None = None
        self._offsets = np.zeros(1, dtype=np.int64)  # cluster c holds rows offsets[c]:offsets[c+1]
        self._indexed = 0  # rows covered by the clusters; later rows are scanned exactly
        self.nprobe_fraction = 0.1
        self._load()

    # ------------------------------------------------------------ persistence
    def _stamp(self) -> float | None:
        try:
            return os.stat(self.directory / _STATE).st_mtime_ns
        except FileNotFoundError:
            return None

    def _load(self) -> None:
        stamp = self._stamp()
        self._loaded_stamp = stamp
        if stamp is None:
            return
        state = json.loads((self.directory / _STATE).read_text())
        matrix = np.load(self.directory / _VECTORS)
        chunks: list[Chunk] = []
        with open(self.directory / _CHUNKS, encoding="utf-8") as handle:
            for line in handle:
                raw = json.loads(line)
                chunks.append(Chunk(raw["id"], raw["source"], raw["text"], raw.get("title", ""), raw.get("position", 0), raw.get("metadata", {})))
        self.dimensions = state.get("dimensions") or (matrix.shape[1] if matrix.size else None)
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._size = len(chunks)
        self._chunks = chunks
        self._alive = np.ones(self._size, dtype=bool)
        self._centroids, self._indexed = None, 0
        if (self.directory / _IVF).exists() and state.get("ivf"):
            with np.load(self.directory / _IVF) as ivf:
                self._centroids, self._offsets = ivf["centroids"], ivf["offsets"]
            self._indexed = int(self._offsets[-1])
        self._reindex()

    def _reindex(self) -> None:
        self._rows = {}
        self._by_source = {}
        for row, chunk in enumerate(self._chunks):
            if self._alive[row]:
                self._rows[chunk.id] = row
                self._by_source.setdefault(chunk.source, []).append(row)
        self._columns = {}

    def _maybe_reload(self) -> None:
        if not self._dirty and self._stamp() != self._loaded_stamp:
            self._load()

    def flush(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            keep = np.flatnonzero(self._alive[: self._size])
            matrix = self._matrix[keep] if self._size else np.zeros((0, self.dimensions or 0), dtype=np.float32)
            chunks = [self._chunks[i] for i in keep]
            centroids, offsets = None, np.zeros(1, dtype=np.int64)
            if len(chunks) >= IVF_MIN_ROWS:
                lists = int(np.sqrt(len(chunks)))
                centroids, assignment = kmeans(matrix, lists)
                order = np.argsort(assignment, kind="stable")
                matrix, chunks = matrix[order], [chunks[i] for i in order]
                offsets = np.concatenate([[0], np.cumsum(np.bincount(assignment, minlength=lists))]).astype(np.int64)
            self.directory.mkdir(parents=True, exist_ok=True)
            if centroids is not None:
                with open(self.directory / (_IVF + ".tmp"), "wb") as handle:
                    np.savez(handle, centroids=centroids, offsets=offsets)
                os.replace(self.directory / (_IVF + ".tmp"), self.directory / _IVF)
            tmp_vectors = self.directory / (_VECTORS + ".tmp")
            with open(tmp_vectors, "wb") as handle:
                np.save(handle, matrix)
            tmp_chunks = self.directory / (_CHUNKS + ".tmp")
            with open(tmp_chunks, "w", encoding="utf-8") as handle:
                for chunk in chunks:
                    handle.write(json.dumps({"id": chunk.id, "source": chunk.source, "text": chunk.text, "title": chunk.title,
                                             "position": chunk.position, "metadata": chunk.metadata}, ensure_ascii=False) + "\n")
            os.replace(tmp_vectors, self.directory / _VECTORS)
            os.replace(tmp_chunks, self.directory / _CHUNKS)
            tmp_state = self.directory / (_STATE + ".tmp")
            tmp_state.write_text(json.dumps({"dimensions": self.dimensions, "count": len(chunks), "ivf": centroids is not None}))
            os.replace(tmp_state, self.directory / _STATE)
            self._matrix, self._chunks, self._size = np.ascontiguousarray(matrix), chunks, len(chunks)
            self._alive = np.ones(self._size, dtype=bool)
            self._centroids, self._offsets, self._indexed = centroids, offsets, int(offsets[-1])
            self._reindex()
            self._dirty = False
            self._loaded_stamp = self._stamp()

    # ------------------------------------------------------------ writes
    def _reserve(self, extra: int, dimensions: int) -> None:
        needed = self._size + extra
        if self._matrix.shape[0] >= needed and self._matrix.shape[1] == dimensions:
            return
        capacity = max(needed, int(self._matrix.shape[0] * 1.5) + 1024)
        grown = np.zeros((capacity, dimensions), dtype=np.float32)
        if self._size:
            grown[: self._size] = self._matrix[: self._size]
        alive = np.zeros(capacity, dtype=bool)
        alive[: self._size] = self._alive[: self._size]
        self._matrix, self._alive = grown, alive

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if not chunks:
            return
        matrix = normalise(vectors)
        if matrix.shape[0] != len(chunks):
            raise ValueError("one vector per chunk")
        with self._lock:
            self._maybe_reload()
            if self.dimensions is None:
                self.dimensions = int(matrix.shape[1])
            elif matrix.shape[1] != self.dimensions:
                raise ValueError(f"vectors have {matrix.shape[1]} dimensions; this store holds {self.dimensions}")
            self._reserve(len(chunks), self.dimensions)
            for chunk, vector in zip(chunks, matrix):
                row = self._rows.get(chunk.id)
                if row is None:
                    row = self._size
                    self._size += 1
                    self._chunks.append(chunk)
                    self._rows[chunk.id] = row
                    self._by_source.setdefault(chunk.source, []).append(row)
                else:
                    self._chunks[row] = chunk
                self._matrix[row] = vector
                self._alive[row] = True
            self._columns = {}
            self._dirty = True

    def delete_source(self, source: str) -> int:
        with self._lock:
            self._maybe_reload()
            rows = self._by_source.pop(source, [])
            for row in rows:
                self._alive[row] = False
                self._rows.pop(self._chunks[row].id, None)
            if rows:
                self._columns = {}
                self._dirty = True
            return len(rows)

    # ------------------------------------------------------------ reads
    def count(self) -> int:
        with self._lock:
            self._maybe_reload()
            return int(self._alive[: self._size].sum())

    def _column(self, name: str) -> np.ndarray:
        column = self._columns.get(name)
        if column is None:
            if name in ("source", "title"):
                values = [getattr(c, name) for c in self._chunks]
            else:
                values = [c.metadata.get(name) for c in self._chunks]
            column = np.empty(len(values), dtype=object)
            column[:] = values
            self._columns[name] = column
        return column

    def _mask(self, filter: Filter) -> np.ndarray:
        mask = self._alive[: self._size].copy()
        for name, wanted in filter.items():
            if name == "source" and isinstance(wanted, str):
                only = np.zeros(self._size, dtype=bool)
                only[self._by_source.get(wanted, [])] = True
                mask &= only
                continue
            column = self._column(name)
            if isinstance(wanted, (list, tuple, set)):
                mask &= np.isin(column, list(wanted))
            else:
                mask &= column == wanted
        return mask

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None, text: str | None = None) -> list[Hit]:
        with self._lock:
            self._maybe_reload()
            if self._size == 0 or k <= 0:
                return []
            query = normalise(vector)[0]
            if query.shape[0] != self.dimensions:
                raise ValueError(f"query has {query.shape[0]} dimensions; this store holds {self.dimensions}")
            if self._centroids is not None and self._indexed > 0:
                hits = self._search_ivf(query, k, filter)
                if hits is not None:
                    return hits
            return self._search_rows(query, k, np.arange(self._size), filter)

    def _search_rows(self, query: np.ndarray, k: int, rows: np.ndarray, filter: Filter | None,
                     scores: np.ndarray | None = None) -> list[Hit]:
        exact = len(rows) == self._size
        if scores is None:
            scores = self._matrix[: self._size] @ query if exact else self._matrix[rows] @ query
        alive = self._mask(filter) if filter else self._alive[: self._size]
        alive = alive if exact else alive[rows]
        if filter or not alive.all():
            scores = np.where(alive, scores, -np.inf)
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(self._chunks[rows[i]], float(scores[i])) for i in top if scores[i] != -np.inf]

    def _search_ivf(self, query: np.ndarray, k: int, filter: Filter | None) -> list[Hit] | None:
        lists = len(self._offsets) - 1
        nprobe = max(1, min(lists, int(np.ceil(lists * self.nprobe_fraction))))
        probe = np.argpartition(-(self._centroids @ query), nprobe - 1)[:nprobe]  # type: ignore[operator]
        spans = [(int(self._offsets[c]), int(self._offsets[c + 1])) for c in probe]
        spans.append((self._indexed, self._size))  # written since the last flush
        # Contiguous slices: views of the matrix, no gather copy.
        scores = np.concatenate([self._matrix[a:b] @ query for a, b in spans])
        rows = np.concatenate([np.arange(a, b) for a, b in spans])
        hits = self._search_rows(query, k, rows, filter, scores)
        return hits if len(hits) >= min(k, self.count_alive()) else None

    def count_alive(self) -> int:
        return int(self._alive[: self._size].sum())
