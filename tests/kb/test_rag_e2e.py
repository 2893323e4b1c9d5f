"""No-code RAG end to end: the openai SDK against a real mesh, a route with knowledge_base."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from llm_mesh.kb.rag import find_rag_hook
from tests.harness import serve_mesh

DOCS = {
    "refunds.md": "# Refund policy\n\nCustomers may return any widget within 30 days for a full refund. Keep the receipt.",
    "shipping.html": "<html><head><title>Shipping</title></head><body><p>Widgets ship from Rotterdam in 2 business days.</p>"
                     "<script>ignored()</script></body></html>",
    "warranty.txt": "The warranty on every gadget lasts two years and covers manufacturing defects only.",
}

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {
        "support": {"provider": "echo", "model": "echo-1", "knowledge_base": "handbook"},
        "plain": {"provider": "echo", "model": "echo-1"},
    },
    "knowledge_bases": {
        "handbook": {
            "embedding": {"kind": "hashing", "dimensions": 256},
            "chunking": {"size": 400, "overlap": 40},
            "retrieval": {"top_k": 2},
            "readers": ["test", "reader"],
            "template": "Use these sources:\n{context}",
        }
    },
    "apps": {"reader": {"routes": ["support"]}, "outsider": {"routes": ["support", "plain"]}},
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("handbook")
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    with serve_mesh(CONFIG) as running:
        kb = find_rag_hook(running.runtime.service).knowledge_bases.get("handbook")
        report = asyncio.run(kb.ingester().ingest([folder]))
        assert len(report.added) == 3 and report.chunks >= 3
        yield running


def _client(mesh, app="test"):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for(app), max_retries=0)


def test_rag_route_answers_with_its_sources(mesh):
    raw = _client(mesh, "reader").chat.completions.with_raw_response.create(
        model="support", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "How many days do I have to return a widget for a refund?"}])
    completion = raw.parse()
    sources = completion.model_extra["sources"]
    assert sources and sources[0]["title"] == "Refund policy"
    assert {"id", "title", "score", "source"} <= set(sources[0])
    assert raw.headers["x-mesh-sources"].startswith(sources[0]["id"] + "=")
    sent = json.loads(completion.choices[0].message.content)  # the echo provider shows what went upstream
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["system", "system", "user"]  # app's system message first, then the retrieved context
    assert "30 days for a full refund" in sent["messages"][1]["content"]
    assert sent["messages"][1]["content"].startswith("Use these sources:\n[1] Refund policy")


def test_streamed_rag_answer_carries_sources_on_first_chunk(mesh):
    stream = _client(mesh).chat.completions.create(
        model="support", messages=[{"role": "user", "content": "where do widgets ship from"}], stream=True)
    chunks = list(stream)
    assert chunks[0].model_extra["sources"][0]["title"] == "Shipping"
    assert all("sources" not in (c.model_extra or {}) for c in chunks[1:])


def test_app_without_read_access_gets_403(mesh):
    with pytest.raises(openai.PermissionDeniedError) as info:
        _client(mesh, "outsider").chat.completions.create(model="support", messages=[{"role": "user", "content": "refund?"}])
    assert "knowledge base" in info.value.message
    # A route without a knowledge base still works for that app.
    assert _client(mesh, "outsider").chat.completions.create(model="plain", messages=[{"role": "user", "content": "hi"}]).choices


def test_search_endpoint(mesh):
    url = f"{mesh.base_url}/mesh/kb/handbook/search"
    answer = httpx.post(url, json={"query": "warranty gadget defects", "top_k": 1}, headers={"authorization": f"Bearer {mesh.key_for('reader')}"})
    assert answer.status_code == 200, answer.text
    [hit] = answer.json()["data"]
    assert "two years" in hit["text"] and hit["title"] == "warranty"
    denied = httpx.post(url, json={"query": "x"}, headers={"authorization": f"Bearer {mesh.key_for('outsider')}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "knowledge_base_forbidden"
    bad = httpx.post(url, json={"query": ""}, headers={"authorization": f"Bearer {mesh.api_key}"})
    assert bad.status_code == 400
    missing = httpx.post(f"{mesh.base_url}/mesh/kb/nope/search", json={"query": "x"}, headers={"authorization": f"Bearer {mesh.api_key}"})
    assert missing.status_code == 404
