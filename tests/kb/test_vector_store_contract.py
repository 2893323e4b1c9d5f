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


# ---------------------------------------------------------------- every adapter, one contract
# The embedded store runs for real; OpenSearch, Chroma and Pinecone speak to in-memory fakes of
# their documented REST APIs (tests/kb/fake_vector_servers.py) through httpx.MockTransport.
# Chunk ids are the ingester's ("<source hash>:<n>"), which Pinecone's delete-by-source relies on.

from llm_mesh.kb.config import KnowledgeBaseConfig  # noqa: E402
from llm_mesh.kb.ingest import chunk_id  # noqa: E402
from llm_mesh.kb.stores import open_store  # noqa: E402
from tests.kb.fake_vector_servers import FakeChroma, FakeOpenSearch, FakePinecone  # noqa: E402

ADAPTERS = ("embedded", "opensearch", "opensearch-hybrid", "chroma", "pinecone")


def _open(kind: str, tmp_path, monkeypatch):
    fake = None
    options: dict = {}
    if kind.startswith("opensearch"):
        fake, options = FakeOpenSearch(), {"endpoint": "https://search.example", "hybrid": kind.endswith("hybrid")}
    elif kind == "chroma":
        fake, options = FakeChroma(), {"url": "http://chroma.example:8000"}
    elif kind == "pinecone":
        monkeypatch.setenv("TEST_PINECONE_KEY", "pc-test-key")
        fake, options = FakePinecone(), {"host": "idx.svc.pinecone.io", "api_key": {"env": "TEST_PINECONE_KEY"}}
    config = KnowledgeBaseConfig.model_validate({"store": {"kind": kind.split("-")[0], "options": options}})
    return open_store("kbtest", config, tmp_path, transport=fake.transport() if fake else None), fake


def _cid(source: str, n: int) -> str:
    return chunk_id(source, n)


@pytest.fixture(params=ADAPTERS)
def any_store(request, tmp_path, monkeypatch):
    store, fake = _open(request.param, tmp_path, monkeypatch)
    chunks = [Chunk(_cid(f"src{i % 2}.md", i), f"src{i % 2}.md", f"text {i} word{i}", f"title {i}", i,
                    {"lang": "en" if i < 3 else "fr"}) for i in range(6)]
    store.upsert(chunks, [_unit(i) for i in range(6)])
    store.flush()
    store.kind, store.fake = request.param, fake
    return store


def test_every_adapter_ranks_filters_and_counts(any_store):
    s = any_store
    assert s.count() == 6
    hits = s.search([0.9, 0.1, 0, 0, 0, 0, 0, 0], 2)
    assert [h.chunk.id for h in hits] == [_cid("src0.md", 0), _cid("src1.md", 1)]
    assert hits[0].score > hits[1].score
    assert hits[0].score == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-5)  # cosine, whatever the backend's scale
    assert hits[0].chunk.text == "text 0 word0" and hits[0].chunk.title == "title 0" and hits[0].chunk.source == "src0.md"
    assert hits[0].chunk.position == 0 and hits[0].chunk.metadata.get("lang") == "en"
    assert {h.chunk.position for h in s.search(_unit(4), 6, {"lang": "en"})} == {0, 1, 2}
    assert {h.chunk.position for h in s.search(_unit(4), 6, {"lang": ["fr"], "source": "src0.md"})} == {4}


def test_every_adapter_deletes_by_source_and_replaces(any_store):
    s = any_store
    assert s.delete_source("src0.md") == 3
    s.flush()
    assert s.count() == 3
    assert all(h.chunk.source == "src1.md" for h in s.search(_unit(0), 6))
    assert s.delete_source("nowhere.md") == 0
    if s.kind != "opensearch" or s.document_ids:  # upsert replaces by id
        s.upsert([Chunk(_cid("src1.md", 1), "src1.md", "new text", "t", 1)], [_unit(7)])
        s.flush()
        [hit] = s.search(_unit(7), 1)
        assert hit.chunk.text == "new text" and s.count() == 3


def test_hybrid_search_blends_keyword_and_vector(tmp_path, monkeypatch):
    store, fake = _open("opensearch-hybrid", tmp_path, monkeypatch)
    chunks = [Chunk(_cid("a.md", i), "a.md", text, "", i) for i, text in enumerate(["refund policy for orders", "shipping times", "holiday calendar"])]
    store.upsert(chunks, [_unit(0), _unit(1), _unit(2)])
    # The vector favours chunk 1; the keywords name chunk 0: the blend (0.7 vector) still ranks 1 first, 0 second.
    hits = store.search([0.1, 1, 0, 0, 0, 0, 0, 0], 3, text="refund policy")
    assert [h.chunk.position for h in hits[:2]] == [1, 0]
    sent = fake.last("POST", "/_search")
    assert sent["params"] == {"search_pipeline": "mesh-kb-kbtest-hybrid"}
    assert list(sent["body"]["query"]) == ["hybrid"]
    assert all(0.0 <= h.score <= 1.0 for h in hits)
