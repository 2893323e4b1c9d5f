"""Tenant isolation of the mesh's capabilities: prompts, knowledge bases, agent runs, feedback, keys.

Two apps on one real server (``serve_mesh``, the echo provider, hashing embeddings so no model is
needed): ``iso-a`` owns a prompt, a knowledge base, agent runs and prompt-rendered requests; ``iso-b``
tries to reach each of them. Every refusal asserts its exact status and that nothing of A's (prompt
text, chunk text, titles, sources, run ids, inputs) comes back in the body or the headers.

Keys: the mesh has no HTTP surface that lists, creates or revokes keys (they are managed with the
``mesh keys`` CLI against the store), so there is nothing to call; ``test_no_http_key_management``
fails as soon as one is added, so that its isolation gets tested here.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from llm_mesh.kb.ingest import IngestReport
from llm_mesh.kb.rag import find_rag_hook
from llm_mesh.prompts.hook import find_prompt_hook
from tests.harness import serve_mesh

# What belongs to app A: none of it may reach app B.
A_PROMPT_TEXT = "You are Zephyrine, the treasury assistant of {{desk}}. Never mention Kobaltwerk."
A_PROMPT_V2 = "You are Zephyrine v2 for {{desk}}. Quote the Kobaltwerk ledger."
A_SECRETS = ("Zephyrine", "Kobaltwerk", "desk")
A_DOCS = {
    "a/merger.md": "# Project Heliotrope\n\nThe Heliotrope merger closes on the ninth; the price is 41 crowns per share.",
    "shared/faq.md": "# Widget FAQ\n\nWidgets from the Heliotrope line ship in violet boxes with quartz trim.",
}
B_DOCS = {
    "b/notes.md": "# Gardening notes\n\nWidgets for the garden ship in green boxes; water the ferns on Tuesdays.",
    # the same source name as one of A's documents, with other text: its chunk ids collide with A's
    "shared/faq.md": "# Widget FAQ\n\nGarden widgets ship in green boxes and carry a two-year warranty.",
}
A_DOC_WORDS = ("Heliotrope", "crowns", "violet", "quartz", "merger")
AGENT_INPUT_A = "Summarise the Ostrakon dossier for the board"

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {
        "r-a": {"provider": "echo", "model": "echo-1"},
        "r-b": {"provider": "echo", "model": "echo-1"},
        "rag-a": {"provider": "echo", "model": "echo-1", "knowledge_base": "kb-a"},
        "rag-b": {"provider": "echo", "model": "echo-1", "knowledge_base": "kb-b"},
    },
    "knowledge_bases": {
        "kb-a": {"embedding": {"kind": "hashing", "dimensions": 64}, "chunking": {"size": 200, "overlap": 20},
                 "retrieval": {"top_k": 5}, "readers": ["iso-a", "test"]},
        "kb-b": {"embedding": {"kind": "hashing", "dimensions": 64}, "chunking": {"size": 200, "overlap": 20},
                 "retrieval": {"top_k": 5}, "readers": ["iso-b", "test"]},
    },
    "agents": {"definitions": {
        "helper-a": {"instructions": "Help app A.", "route": "r-a", "max_steps": 2},
        "helper-b": {"instructions": "Help app B.", "route": "r-b", "max_steps": 2},
    }},
    "experiments": {"a-tone": {"prompt": "a-secret", "label": "production",
                               "variants": {"x": {"version": 1}, "y": {"version": 2}}}},
    # B may use the RAG route of A's knowledge base: the knowledge base's readers must still refuse it.
    "apps": {"iso-a": {"routes": ["r-a", "rag-a"]}, "iso-b": {"routes": ["r-b", "rag-b", "rag-a"]}},
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    raw = {**CONFIG, "prompts": {"directory": str(tmp_path_factory.mktemp("no-prompt-files"))}}
    with serve_mesh(raw) as running:
        admin = {"Authorization": f"Bearer {running.api_key}"}
        with httpx.Client(base_url=running.root_url, headers=admin, timeout=20) as c:
            for text in (A_PROMPT_TEXT, A_PROMPT_V2):
                made = c.post("/v1/mesh/prompts/a-secret/versions",
                              json={"route": "r-a", "messages": [{"role": "system", "content": text}],
                                    "variables": {"desk": {"description": "trading desk"}}})
                assert made.status_code == 200, made.text
            moved = c.post("/v1/mesh/prompts/a-secret/labels/production", json={"version": 1})
            assert moved.status_code == 200, moved.text
        knowledge = find_rag_hook(running.runtime.service).knowledge_bases
        for name, docs in (("kb-a", A_DOCS), ("kb-b", B_DOCS)):
            asyncio.run(_ingest(knowledge.get(name), docs))
        yield running


async def _ingest(kb, docs: dict[str, str]) -> None:
    ingester, report = kb.ingester(), IngestReport()
    for source, text in docs.items():
        await ingester.ingest_bytes(source, text.encode(), Path(source), report)
    kb.store.flush()
    assert len(report.added) == len(docs) and report.chunks >= len(docs)


def client(mesh, app: str) -> httpx.Client:
    return httpx.Client(base_url=mesh.root_url, headers={"Authorization": f"Bearer {mesh.key_for(app)}"}, timeout=30)


def leaked(response: httpx.Response, needles) -> list[str]:
    """Which of ``needles`` appear in the body or a header of the response."""
    text = response.text + "\n" + json.dumps(dict(response.headers))
    return [n for n in needles if n.lower() in text.lower()]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code, error
    return error


# ---------------------------------------------------------------- prompts
def prompt_chat(c: httpx.Client, reference: str, **extra) -> httpx.Response:
    return c.post("/v1/chat/completions", json={"model": f"prompt:{reference}", "variables": {"desk": "FX"},
                                                "messages": [{"role": "user", "content": "hello"}], **extra})


def test_prompt_owner_can_use_its_prompt(mesh):
    with client(mesh, "iso-a") as a:
        answer = prompt_chat(a, "a-secret@1")
        assert answer.status_code == 200, answer.text[:300]
        sent = json.loads(answer.json()["choices"][0]["message"]["content"])  # echo: what went upstream
        assert sent["messages"][0]["content"].startswith("You are Zephyrine")


@pytest.mark.parametrize("reference", ["a-secret", "a-secret@1", "a-secret@v2", "a-secret@production"])
def test_an_app_cannot_call_a_prompt_whose_route_it_may_not_use(mesh, reference):
    with client(mesh, "iso-b") as b:
        for stream in (False, True):
            denied = prompt_chat(b, reference, stream=stream)
            assert_error(denied, 403, "permission_denied")
            assert leaked(denied, A_SECRETS) == [], denied.text


def test_sdk_sees_a_permission_error_for_another_apps_prompt(mesh):
    sdk = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("iso-b"), max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk.chat.completions.create(model="prompt:a-secret", messages=[{"role": "user", "content": "hi"}],
                                    extra_body={"variables": {"desk": "FX"}})
    assert "Zephyrine" not in str(caught.value.body)


def test_a_denied_prompt_does_not_reveal_its_variables(mesh):
    with client(mesh, "iso-b") as b:
        denied = b.post("/v1/chat/completions", json={"model": "prompt:a-secret", "messages": [{"role": "user", "content": "hi"}]})
        assert denied.status_code == 403, denied.text
        assert leaked(denied, A_SECRETS) == []


def test_a_denied_prompt_carries_no_prompt_or_experiment_headers(mesh):
    with client(mesh, "iso-b") as b:
        denied = prompt_chat(b, "a-secret")
    assert denied.status_code == 403
    assert "x-mesh-prompt" not in denied.headers and "x-mesh-experiment" not in denied.headers
    assert leaked(denied, ("a-tone",)) == []


PROMPT_ADMIN = [
    ("GET", "/v1/mesh/prompts", None),
    ("GET", "/v1/mesh/prompts/a-secret", None),
    ("GET", "/v1/mesh/prompts/a-secret/diff?from=1&to=2", None),
    ("POST", "/v1/mesh/prompts/a-secret/versions", {"route": "r-b", "messages": [{"role": "system", "content": "hijacked"}]}),
    ("POST", "/v1/mesh/prompts/a-secret/labels/production", {"version": 2}),
    ("POST", "/v1/mesh/prompts/a-secret/labels/production/rollback", None),
    ("GET", "/v1/mesh/experiments/a-tone", None),
    ("POST", "/v1/mesh/experiments/a-tone/promote", {"variant": "y"}),
]


@pytest.mark.parametrize(("method", "path", "body"), PROMPT_ADMIN, ids=[f"{m} {p}" for m, p, _ in PROMPT_ADMIN])
def test_prompt_admin_api_refuses_non_admin_apps(mesh, method, path, body):
    with client(mesh, "iso-b") as b:
        response = b.request(method, path, json=body)
    assert_error(response, 403, "permission_denied")
    assert leaked(response, (*A_SECRETS, "a-tone\"", "production\"")) == [], response.text


def test_non_admin_writes_changed_nothing(mesh):
    with client(mesh, "iso-b") as b:
        for method, path, body in PROMPT_ADMIN:
            if method == "POST":
                b.request(method, path, json=body)
    with client(mesh, "test") as admin:
        shown = admin.get("/v1/mesh/prompts/a-secret").json()
        report = admin.get("/v1/mesh/experiments/a-tone").json()
    assert shown["versions"] == [1, 2] and shown["labels"] == {"production": 1}
    assert "hijacked" not in json.dumps(shown)
    assert report["promoted"] is None and report["concluded"] is False


# ---------------------------------------------------------------- knowledge bases
def kb_search(c: httpx.Client, name: str, query: str, **extra) -> httpx.Response:
    return c.post(f"/v1/mesh/kb/{name}/search", json={"query": query, **extra})


def test_kb_search_refuses_an_app_outside_the_readers(mesh):
    with client(mesh, "iso-b") as b:
        for body in ({}, {"top_k": 50}, {"filter": {"source": "a/merger.md"}}):
            denied = kb_search(b, "kb-a", "Heliotrope merger price per share", **body)
            assert_error(denied, 403, "knowledge_base_forbidden")
            assert leaked(denied, (*A_DOC_WORDS, "a/merger.md")) == [], denied.text
            assert "x-mesh-sources" not in denied.headers


def test_rag_route_refuses_an_app_outside_the_readers(mesh):
    with client(mesh, "iso-b") as b:
        for stream in (False, True):
            denied = b.post("/v1/chat/completions", json={
                "model": "rag-a", "stream": stream,
                "messages": [{"role": "user", "content": "What is the Heliotrope merger price per share?"}]})
            assert_error(denied, 403, "knowledge_base_forbidden")
            assert leaked(denied, (*A_DOC_WORDS, "a/merger.md")) == [], denied.text
            assert "x-mesh-sources" not in denied.headers


def _a_chunk_ids(mesh) -> set[str]:
    kb = find_rag_hook(mesh.runtime.service).knowledge_bases.get("kb-a")
    return {chunk for record in kb.documents.list_documents("kb-a") for chunk in record.chunk_ids}


def test_kb_search_returns_only_the_readers_own_chunks(mesh):
    a_ids = _a_chunk_ids(mesh)
    with client(mesh, "iso-b") as b:
        # a query written to match A's documents: B's own knowledge base must answer with B's text only
        found = kb_search(b, "kb-b", "Heliotrope widgets ship in violet boxes with quartz trim", top_k=50)
    assert found.status_code == 200, found.text
    data = found.json()["data"]
    assert data and found.json()["knowledge_base"] == "kb-b"
    assert {hit["source"] for hit in data} <= set(B_DOCS)
    assert leaked(found, A_DOC_WORDS) == [], found.text
    for hit in data:
        assert hit["text"] in B_DOCS[hit["source"]] or hit["text"].strip() in B_DOCS[hit["source"]]
    # chunk ids are derived from the source name, so kb-b's shared/faq.md has the same ids as kb-a's:
    # the text behind them must still be kb-b's
    shared = [hit for hit in data if hit["source"] == "shared/faq.md"]
    assert shared and all(hit["id"] in a_ids for hit in shared) and all("green" in hit["text"] for hit in shared)


def test_rag_sources_of_an_allowed_app_come_from_its_own_kb(mesh):
    sdk = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("iso-b"), max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model="rag-b", messages=[{"role": "user", "content": "Heliotrope widgets ship in violet boxes with quartz trim?"}])
    completion = raw.parse()
    sources = completion.model_extra["sources"]
    assert sources and {s["source"] for s in sources} <= set(B_DOCS)
    upstream = json.loads(completion.choices[0].message.content)  # the echo provider shows the injected context
    context = json.dumps([m for m in upstream["messages"] if m["role"] == "system"])  # not the question itself
    assert "green boxes" in context
    for word in A_DOC_WORDS:
        assert word not in context and word not in raw.headers.get("x-mesh-sources", "")


def test_kb_owner_sees_its_own_chunks(mesh):
    with client(mesh, "iso-a") as a:
        found = kb_search(a, "kb-a", "Heliotrope merger price per share")
    assert found.status_code == 200 and "41 crowns" in found.text
    assert {hit["source"] for hit in found.json()["data"]} <= set(A_DOCS)
    assert "green" not in found.text and "Gardening" not in found.text


# ---------------------------------------------------------------- agent runs
@pytest.fixture(scope="module")
def a_runs(mesh):
    """One finished sync run and one async run of app A."""
    with client(mesh, "iso-a") as a:
        sync = a.post("/v1/mesh/agents/helper-a/runs?wait=true", json={"input": AGENT_INPUT_A})
        assert sync.status_code == 200 and sync.json()["status"] == "succeeded", sync.text[:300]
        started = a.post("/v1/mesh/agents/helper-a/runs", json={"input": AGENT_INPUT_A + " (async)"})
        assert started.status_code == 202, started.text[:300]
        run_id = started.json()["id"]
        deadline = time.monotonic() + 10
        while a.get(f"/v1/mesh/agents/helper-a/runs/{run_id}").json()["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
    return [sync.json()["id"], run_id]


def test_an_app_cannot_read_another_apps_run(mesh, a_runs):
    with client(mesh, "iso-b") as b, client(mesh, "iso-a") as a:
        for run_id in a_runs:
            assert a.get(f"/v1/mesh/agents/helper-a/runs/{run_id}").status_code == 200
            for agent in ("helper-a", "helper-b"):
                other = b.get(f"/v1/mesh/agents/{agent}/runs/{run_id}")
                unknown = b.get(f"/v1/mesh/agents/{agent}/runs/run_does_not_exist")
                assert_error(other, 404)
                assert_error(unknown, 404)
                # indistinguishable from an unknown id: same code, same message shape
                assert other.json()["error"]["code"] == unknown.json()["error"]["code"]
                assert other.json()["error"]["message"].replace(run_id, "X") == \
                    unknown.json()["error"]["message"].replace("run_does_not_exist", "X")
                assert leaked(other, ("Ostrakon", "Help app A", "iso-a", "steps_detail")) == [], other.text


def test_an_apps_run_list_excludes_other_apps_runs(mesh, a_runs):
    with client(mesh, "iso-b") as b:
        mine = b.post("/v1/mesh/agents/helper-b/runs?wait=true", json={"input": "water the ferns"})
        assert mine.status_code == 200, mine.text[:300]
        for agent in ("helper-a", "helper-b"):
            listed = b.get(f"/v1/mesh/agents/{agent}/runs")
            assert listed.status_code == 200, listed.text
            ids = [run["id"] for run in listed.json()["data"]]
            assert not set(ids) & set(a_runs)
            assert leaked(listed, ("Ostrakon", "iso-a", *a_runs)) == [], listed.text
        assert [r["id"] for r in b.get("/v1/mesh/agents/helper-b/runs").json()["data"]] == [mine.json()["id"]]
        assert b.get("/v1/mesh/agents/helper-a/runs").json()["data"] == []


def test_an_app_cannot_start_another_apps_agent(mesh):
    with client(mesh, "iso-b") as b:
        denied = b.post("/v1/mesh/agents/helper-a/runs?wait=true", json={"input": "hi"})
    assert_error(denied, 403, "permission_denied")
    assert leaked(denied, ("Help app A", "Ostrakon")) == []


# ---------------------------------------------------------------- feedback
def test_an_app_cannot_send_feedback_on_another_apps_request(mesh):
    with client(mesh, "iso-a") as a, client(mesh, "iso-b") as b:
        answer = prompt_chat(a, "a-secret@1")
        assert answer.status_code == 200
        request_id = answer.headers["x-mesh-request-id"]
        plain = b.post("/v1/chat/completions", json={"model": "r-b", "messages": [{"role": "user", "content": "hi"}]})
        for target in (request_id, "req_does_not_exist", plain.headers["x-mesh-request-id"]):
            denied = b.post("/v1/mesh/feedback", json={"request_id": target, "score": -1, "comment": "sabotage"})
            assert_error(denied, 404, "request_not_found")
            assert leaked(denied, (*A_SECRETS, "a-secret", "iso-a")) == [], denied.text
        outcome = find_prompt_hook(mesh.runtime.service).store.get_outcome(request_id)
        assert outcome is not None and outcome.app == "iso-a" and outcome.feedback is None
        assert a.post("/v1/mesh/feedback", json={"request_id": request_id, "score": 1}).status_code == 200


def test_a_refused_app_cannot_vote_in_another_apps_experiment(mesh):
    with client(mesh, "iso-b") as b, client(mesh, "test") as admin:
        before = admin.get("/v1/mesh/experiments/a-tone").json()
        denied = prompt_chat(b, "a-secret")
        assert denied.status_code == 403
        vote = b.post("/v1/mesh/feedback", json={"request_id": denied.headers["x-mesh-request-id"], "score": 5})
        after = admin.get("/v1/mesh/experiments/a-tone").json()
        assert vote.status_code == 404, vote.text
        assert [v["requests"] for v in after["variants"]] == [v["requests"] for v in before["variants"]]


# ---------------------------------------------------------------- keys
def test_no_http_key_management(mesh):
    """Keys are managed with the CLI only. If an HTTP key API appears, its isolation belongs in this file."""
    with client(mesh, "test") as admin:
        paths = list(admin.get("/openapi.json").json()["paths"])
    assert paths, "the OpenAPI document lists no paths"
    assert [p for p in paths if "key" in p.lower()] == []
