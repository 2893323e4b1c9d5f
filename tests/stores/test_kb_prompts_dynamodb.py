"""Knowledge-base documents and the prompt catalogue: one contract, run on the in-memory
reference (documents), SQLite and DynamoDB (DynamoDB Local, tables created from the shared
TableSpecs). ``-k "not dynamodb"`` never starts Java."""

from __future__ import annotations

import threading
import uuid

import pytest

from llm_mesh.kb.documents import DocumentRecord, MemoryDocumentStore
from llm_mesh.prompts.store import LabelMove, Outcome, StoredVersion
from llm_mesh.stores.dynamodb.admin import create_tables
from llm_mesh.stores.dynamodb.tables import KB_DOCUMENTS, PROMPT_OUTCOMES, PROMPTS
from llm_mesh.stores.sqlite.connection import SqliteDatabase


@pytest.fixture(scope="module")
def dynamo(request):
    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    from llm_mesh.stores.dynamodb import DynamoStores
    from tests.fixtures.dynamodb_local import make_client

    client = make_client(endpoint)
    tag = uuid.uuid4().hex[:8]
    names = {"keys": f"keys-{tag}", "requests": f"requests-{tag}", KB_DOCUMENTS.logical: f"kbdocs-{tag}",
             PROMPTS.logical: f"prompts-{tag}", PROMPT_OUTCOMES.logical: f"outcomes-{tag}"}
    create_tables(client, names)
    stores = DynamoStores(client, names)
    yield stores
    client.close()


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def documents(request, tmp_path):
    if request.param == "memory":
        return MemoryDocumentStore()
    if request.param == "sqlite":
        from llm_mesh.stores.sqlite.kb import SqliteDocumentStore

        return SqliteDocumentStore(SqliteDatabase(tmp_path / "mesh.db"))
    return request.getfixturevalue("dynamo").kb_documents


@pytest.fixture(params=["sqlite", "dynamodb"])
def prompts(request, tmp_path):
    if request.param == "sqlite":
        from llm_mesh.stores.sqlite.prompts import SqlitePromptStore

        return SqlitePromptStore(SqliteDatabase(tmp_path / "mesh.db"))
    return request.getfixturevalue("dynamo").prompts


def test_documents_contract(documents):
    kb = f"kb-{uuid.uuid4().hex[:6]}"
    assert documents.get_document(kb, "a.md") is None and documents.list_documents(kb) == []
    first = DocumentRecord(kb, "b/x.md", "h1", "X", ("c:0", "c:1"), 1700000000.25)
    documents.put_document(first)
    documents.put_document(DocumentRecord(kb, "a.md", "h2", "", (), 1700000001.0))
    documents.put_document(DocumentRecord("other", "a.md", "h9", "", (), 1.0))
    assert documents.get_document(kb, "b/x.md") == first
    assert [d.source for d in documents.list_documents(kb)] == ["a.md", "b/x.md"]
    documents.put_document(DocumentRecord(kb, "b/x.md", "h3", "X2", ("c:0",), 1700000002.0))
    assert documents.get_document(kb, "b/x.md").content_hash == "h3"
    assert documents.delete_document(kb, "a.md") is True and documents.delete_document(kb, "a.md") is False
    assert [d.source for d in documents.list_documents(kb)] == ["b/x.md"]


def test_versions_are_immutable_and_ordered(prompts):
    name = f"p-{uuid.uuid4().hex[:6]}"
    v1 = StoredVersion(name, 1, '{"route":"a"}', "h1", 1700000000.5, "repo")
    assert prompts.put_version(v1) is True
    assert prompts.put_version(StoredVersion(name, 1, '{"route":"b"}', "h2", 1.0)) is False
    assert prompts.get_version(name, 1) == v1 and prompts.get_version(name, 3) is None
    for n in (10, 2):
        prompts.put_version(StoredVersion(name, n, "{}", f"h{n}", 1.0))
    assert [v.version for v in prompts.list_versions(name)] == [1, 2, 10]
    every = [(v.name, v.version) for v in prompts.list_versions() if v.name == name]
    assert every == [(name, 1), (name, 2), (name, 10)]


def test_labels_move_with_history(prompts):
    name = f"p-{uuid.uuid4().hex[:6]}"
    assert prompts.get_labels(name) == {} and prompts.label_history(name, "production") == []
    prompts.move_label(LabelMove(name, "production", 1, 100.0, "config"))
    prompts.move_label(LabelMove(name, "staging", 2, 101.0))
    prompts.move_label(LabelMove(name, "production", 2, 102.0, "alice"))
    assert prompts.get_labels(name) == {"production": 2, "staging": 2}
    history = prompts.label_history(name, "production")
    assert [(m.version, m.at, m.actor) for m in history] == [(2, 102.0, "alice"), (1, 100.0, "config")]


def test_outcomes_feedback_and_state(prompts):
    experiment = f"e-{uuid.uuid4().hex[:6]}"
    base = dict(prompt="p", version=1, variant="a", app="bot", user="u", status=200, latency_ms=12.5, cost_usd=0.0001)
    ids = [uuid.uuid4().hex for _ in range(3)]
    prompts.record_outcome(Outcome(request_id=ids[0], experiment=experiment, ts=2.0, **base))
    prompts.record_outcome(Outcome(request_id=ids[1], experiment=experiment, ts=1.0, **{**base, "variant": "b"}))
    prompts.record_outcome(Outcome(request_id=ids[2], experiment="", ts=3.0, **base))  # outside experiments
    assert [o.request_id for o in prompts.outcomes(experiment)] == [ids[1], ids[0]]
    assert prompts.get_outcome(ids[2]).experiment == ""
    updated = prompts.set_feedback(ids[0], 0.75, "good")
    assert updated.feedback == 0.75 and updated.comment == "good" and updated.latency_ms == 12.5
    assert prompts.set_feedback("unknown-request", 1.0, None) is None
    assert prompts.get_state(experiment) is None
    prompts.set_state(experiment, {"concluded": True, "promoted": "b"})
    assert prompts.get_state(experiment) == {"concluded": True, "promoted": "b"}


def test_concurrent_label_moves_keep_every_history_entry(prompts):
    name = f"p-{uuid.uuid4().hex[:6]}"
    threads = [threading.Thread(target=prompts.move_label, args=(LabelMove(name, "production", n, 100.0, f"t{n}"),)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(prompts.label_history(name, "production")) == 8
    assert prompts.get_labels(name)["production"] in range(8)
