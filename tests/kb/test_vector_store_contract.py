"""The VectorStore contract (embedded store, for real): upsert, search order, filters, delete by source, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from llm_mesh.kb.store import Chunk
from llm_mesh.kb.stores import embedded
from llm_mesh.kb.stores.embedded import EmbeddedVectorStore


def _unit(i: int, d: int = 8) -> list[float]:
    v = [0.0] * d
    v[i] = 1.0
    return v


@pytest.fixture()
def store(tmp_path):
    s = EmbeddedVectorStore(tmp_path / "kb")
    chunks = [Chunk(f"c{i}", f"src{i % 2}.md", f"text {i}", f"title {i}", i, {"lang": "en" if i < 3 else "fr"}) for i in range(6)]
    s.upsert(chunks, [_unit(i) for i in range(6)])
    return s


def test_search_ranks_by_cosine(store):
    hits = store.search([0.9, 0.1, 0, 0, 0, 0, 0, 0], 2)
    assert [h.chunk.id for h in hits] == ["c0", "c1"] and hits[0].score > hits[1].score


def test_filters_and_delete_by_source(store):
    assert {h.chunk.id for h in store.search(_unit(4), 6, {"lang": "en"})} == {"c0", "c1", "c2"}
    assert {h.chunk.id for h in store.search(_unit(4), 6, {"source": "src0.md"})} == {"c0", "c2", "c4"}
    assert store.delete_source("src0.md") == 3 and store.count() == 3
    assert all(h.chunk.source == "src1.md" for h in store.search(_unit(0), 6))


def test_upsert_replaces_and_flush_persists(store, tmp_path):
    store.upsert([Chunk("c0", "src0.md", "new text", "t", 0)], [_unit(7)])
    store.delete_source("src1.md")
    store.flush()
    reopened = EmbeddedVectorStore(tmp_path / "kb")
    assert reopened.count() == 3
    [hit] = reopened.search(_unit(7), 1)
    assert hit.chunk.id == "c0" and hit.chunk.text == "new text"
    with pytest.raises(ValueError):
        reopened.upsert([Chunk("x", "s", "t")], [[1.0, 0.0]])


def test_clustered_index_matches_exact_scan(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "IVF_MIN_ROWS", 500)
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((40, 32)).astype(np.float32)
    vectors = centers[rng.integers(0, 40, 2000)] + 0.1 * rng.standard_normal((2000, 32)).astype(np.float32)
    store = EmbeddedVectorStore(tmp_path / "big")
    store.upsert([Chunk(f"c{i}", f"s{i % 7}", "t") for i in range(2000)], vectors)
    store.flush()
    assert store._centroids is not None
    store.upsert([Chunk("late", "s", "t")], [centers[5]])  # unflushed rows are scanned too
    for c in range(10):
        exact = {h.chunk.id for h in store._search_rows(centers[c] / np.linalg.norm(centers[c]), 4, np.arange(store._size), None)}
        assert exact == {h.chunk.id for h in store.search(centers[c], 4)}
    assert store.search(centers[5], 1)[0].chunk.id == "late"
    assert {h.chunk.source for h in store.search(centers[1], 5, {"source": "s3"})} == {"s3"}
