"""The exact request bodies the remote vector stores send, against the documented APIs:
OpenSearch k-NN / hybrid query DSL, search pipeline, _bulk NDJSON; Chroma API v2; Pinecone
data plane. Plus opensearch-py for real (SigV4 for Serverless, service "aoss") against a
loopback fake, and errors that never echo credentials."""

from __future__ import annotations

import pytest

from llm_mesh.kb.config import KnowledgeBaseConfig
from llm_mesh.kb.store import Chunk
from llm_mesh.kb.stores import open_store
from llm_mesh.kb.stores import opensearch_dsl as dsl
from llm_mesh.kb.stores.remote import VectorStoreError
from tests.kb.fake_vector_servers import FakeChroma, FakeOpenSearch, FakePinecone, serve_http

V = [1.0, 0.0, 0.0, 0.0]
CHUNK = Chunk("abc:0", "docs/a.md", "refunds take 5 days", "Refunds", 0, {"lang": "en"})


def _store(kind, options, fake, tmp_path):
    config = KnowledgeBaseConfig.model_validate({"store": {"kind": kind, "options": options}})
    return open_store("handbook", config, tmp_path, transport=fake.transport())


# ---------------------------------------------------------------- OpenSearch DSL
def test_index_body_is_a_faiss_hnsw_cosinesimil_knn_index():
    body = dsl.index_body(384)
    assert body["settings"]["index"]["knn"] is True
    assert body["mappings"]["properties"]["embedding"] == {
        "type": "knn_vector", "dimension": 384,
        "method": {"name": "hnsw", "engine": "faiss", "space_type": "cosinesimil", "parameters": {"m": 16, "ef_construction": 128}},
    }
    props = body["mappings"]["properties"]
    assert props["text"] == {"type": "text"} and props["source"] == {"type": "keyword"} and props["chunk_id"] == {"type": "keyword"}
    assert body["mappings"]["dynamic_templates"][0]["strings_as_keywords"]["mapping"] == {"type": "keyword"}


def test_knn_query_with_efficient_filter():
    assert dsl.knn_body(V, 3, {"lang": "en", "source": ["a", "b"]}) == {
        "size": 3,
        "_source": {"excludes": ["embedding"]},
        "query": {"knn": {"embedding": {"vector": V, "k": 3, "filter": {"bool": {"filter": [
            {"term": {"lang": "en"}}, {"terms": {"source": ["a", "b"]}}]}}}}},
    }
    assert "filter" not in dsl.knn_body(V, 3)["query"]["knn"]["embedding"]


def test_hybrid_query_and_normalization_pipeline():
    body = dsl.hybrid_body("refund policy", V, 4, {"lang": "en"})
    assert body["query"] == {"hybrid": {"queries": [
        {"bool": {"must": [{"match": {"text": {"query": "refund policy"}}}], "filter": [{"term": {"lang": "en"}}]}},
        {"knn": {"embedding": {"vector": V, "k": 4, "filter": {"bool": {"filter": [{"term": {"lang": "en"}}]}}}}},
    ]}}
    assert dsl.pipeline_body(0.7) == {
        "description": "LLM mesh hybrid retrieval: min-max normalisation, weighted arithmetic mean",
        "phase_results_processors": [{"normalization-processor": {
            "normalization": {"technique": "min_max"},
            "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.3, 0.7]}}}}],
    }


def test_bulk_ndjson_and_scores():
    text = dsl.bulk_index_body("kb", [CHUNK], [V])
    assert text.endswith("\n") and text.count("\n") == 2
    assert dsl.bulk_index_body("kb", [CHUNK], [V], with_ids=False).startswith('{"index":{"_index":"kb"}}\n')
    assert dsl.bulk_delete_body("kb", ["x", "y"]) == '{"delete":{"_index":"kb","_id":"x"}}\n{"delete":{"_index":"kb","_id":"y"}}\n'
    response = {"hits": {"hits": [{"_id": "gen1", "_score": 1.8, "_source": {**dsl.document(CHUNK, V), "embedding": None}}]}}
    [hit] = dsl.parse_hits(response)
    assert hit.chunk.id == "abc:0" and hit.score == pytest.approx(0.8) and hit.chunk.metadata == {"lang": "en"}
    assert dsl.parse_hits(response, engine="lucene")[0].score == pytest.approx(2.6)  # (1 + cos) / 2 scale
    assert dsl.bulk_errors({"errors": True, "items": [{"delete": {"_id": "a", "status": 404}},
                                                      {"index": {"_id": "b", "status": 400, "error": {"type": "mapper_parsing_exception"}}}]}) \
        == ["index b: mapper_parsing_exception"]


def test_opensearch_store_requests(tmp_path):
    fake = FakeOpenSearch()
    store = _store("opensearch", {"endpoint": "https://x", "hybrid": True, "vector_weight": 0.6}, fake, tmp_path)
    store.upsert([CHUNK], [V])
    assert [(r["method"], r["path"]) for r in fake.requests] == [
        ("PUT", "/mesh-kb-handbook"), ("PUT", "/_search/pipeline/mesh-kb-handbook-hybrid"), ("POST", "/_bulk")]
    assert fake.requests[0]["body"] == dsl.index_body(4)
    assert fake.requests[1]["body"] == dsl.pipeline_body(0.6)
    assert fake.requests[2]["body"][0] == {"index": {"_index": "mesh-kb-handbook", "_id": "abc:0"}}
    store.search(V, 2)  # no text: plain k-NN, no pipeline
    assert fake.requests[-1]["params"] == {} and "knn" in fake.requests[-1]["body"]["query"]
    # a second process finds the index there: 400 resource_already_exists is fine
    again = _store("opensearch", {"endpoint": "https://x"}, fake, tmp_path)
    again.upsert([CHUNK], [V])
    assert again.count() == 1


def test_serverless_defaults_and_unknown_index(tmp_path):
    fake = FakeOpenSearch()
    store = _store("opensearch", {"endpoint": "https://x", "service": "aoss", "index": "kb"}, fake, tmp_path)
    assert store.search(V, 3) == [] and store.count() == 0 and store.delete_source("a") == 0  # 404 -> empty
    store.upsert([CHUNK], [V])
    store.flush()
    assert fake.requests[-1]["path"] == "/_bulk" and "_id" not in fake.requests[-1]["body"][0]["index"]  # no _refresh, no custom ids
    assert [h.chunk.id for h in store.search(V, 3)] == ["abc:0"]
    assert store.delete_source("docs/a.md") == 1 and store.count() == 0


def test_opensearch_py_signs_with_sigv4_for_serverless(tmp_path, monkeypatch):
    pytest.importorskip("opensearchpy")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fake = FakeOpenSearch()
    server, url, seen = serve_http(fake.handle)
    try:
        config = KnowledgeBaseConfig.model_validate({"store": {"kind": "opensearch", "options": {
            "endpoint": url, "service": "aoss", "region": "eu-west-1", "hybrid": True}}})
        store = open_store("handbook", config, tmp_path)  # no transport: the real opensearch-py client
        store.upsert([CHUNK], [V])
        hits = store.search(V, 1, {"lang": "en"}, text="refunds")
        assert [h.chunk.id for h in hits] == ["abc:0"]
        assert fake.last("POST", "/_search")["params"] == {"search_pipeline": "mesh-kb-handbook-hybrid"}
        assert fake.last("POST", "/_bulk")["body"][1]["chunk_id"] == "abc:0"
        for headers in seen:
            assert "/eu-west-1/aoss/aws4_request" in headers["authorization"]
            assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            assert "x-amz-content-sha256" in headers and "x-amz-date" in headers
    finally:
        server.shutdown()


def test_opensearch_errors_do_not_echo_credentials(tmp_path, monkeypatch):
    pytest.importorskip("opensearchpy")
    monkeypatch.setenv("OS_PASSWORD", "hunter2-secret")
    import httpx

    server, url, _ = serve_http(lambda request: httpx.Response(500, json={"error": {"type": "boom"}}))
    try:
        config = KnowledgeBaseConfig.model_validate({"store": {"kind": "opensearch", "options": {
            "endpoint": url, "username": {"env": "OS_PASSWORD"}, "password": {"env": "OS_PASSWORD"}}}})
        with pytest.raises(VectorStoreError) as info:
            open_store("kb", config, tmp_path).count()
        assert "hunter2" not in str(info.value) and info.value.status == 502
    finally:
        server.shutdown()


# ---------------------------------------------------------------- Chroma
def test_chroma_requests_follow_api_v2(tmp_path):
    fake = FakeChroma()
    store = _store("chroma", {"url": "http://chroma:8000", "tenant": "t1", "database": "d1"}, fake, tmp_path)
    store.upsert([CHUNK], [V])
    create, upsert = fake.requests
    assert create["path"] == "/api/v2/tenants/t1/databases/d1/collections"
    assert create["body"] == {"name": "mesh-kb-handbook", "get_or_create": True, "metadata": {"hnsw:space": "cosine"}}
    cid = next(iter(fake.collections))
    assert upsert["path"] == f"/api/v2/tenants/t1/databases/d1/collections/{cid}/upsert"
    assert upsert["body"] == {"ids": ["abc:0"], "embeddings": [V], "documents": ["refunds take 5 days"],
                              "metadatas": [{"source": "docs/a.md", "title": "Refunds", "position": 0, "lang": "en"}]}
    [hit] = store.search(V, 5, {"lang": "en", "source": ["docs/a.md"]})
    assert fake.requests[-1]["body"] == {"query_embeddings": [V], "n_results": 5, "include": ["documents", "metadatas", "distances"],
                                         "where": {"$and": [{"lang": {"$eq": "en"}}, {"source": {"$in": ["docs/a.md"]}}]}}
    assert hit.score == pytest.approx(1.0) and hit.chunk.text == "refunds take 5 days"
    assert store.delete_source("docs/a.md") == 1
    assert fake.requests[-2]["body"] == {"where": {"source": {"$eq": "docs/a.md"}}, "include": []}
    assert fake.requests[-1]["body"] == {"ids": ["abc:0"]}


# ---------------------------------------------------------------- Pinecone
def test_pinecone_requests_follow_the_data_plane_api(tmp_path, monkeypatch):
    monkeypatch.setenv("PC_KEY", "pc-test-key")
    fake = FakePinecone()
    store = _store("pinecone", {"host": "idx-1.svc.pinecone.io", "api_key": {"env": "PC_KEY"}}, fake, tmp_path)
    store.upsert([CHUNK], [V])
    sent = fake.requests[0]
    assert sent["path"] == "/vectors/upsert" and sent["headers"]["api-key"] == "pc-test-key"
    assert sent["headers"]["x-pinecone-api-version"] == "2025-04"
    assert sent["body"] == {"vectors": [{"id": "abc:0", "values": V, "metadata": {
        "source": "docs/a.md", "title": "Refunds", "position": 0, "text": "refunds take 5 days", "lang": "en"}}], "namespace": "handbook"}
    [hit] = store.search(V, 3, {"lang": "en", "position": [0, 1]})
    assert fake.requests[-1]["body"] == {"namespace": "handbook", "vector": V, "topK": 3, "includeMetadata": True,
                                         "includeValues": False, "filter": {"lang": {"$eq": "en"}, "position": {"$in": [0, 1]}}}
    assert hit.score == pytest.approx(1.0) and hit.chunk.source == "docs/a.md"


def test_pinecone_key_by_reference_only(tmp_path, monkeypatch):
    fake = FakePinecone()
    with pytest.raises(ValueError, match="inline credentials"):
        _store("pinecone", {"host": "h", "api_key": "pc-inline"}, fake, tmp_path).count()
    monkeypatch.setenv("PC_KEY", "wrong-key")
    with pytest.raises(VectorStoreError) as info:
        _store("pinecone", {"host": "h", "api_key_env": "PC_KEY"}, fake, tmp_path).count()
    assert info.value.upstream_status == 401 and "wrong-key" not in str(info.value)
