"""ResponseStore contract on memory, SQLite and DynamoDB Local: per-app namespaces, input items,
expiry, delete, and records past DynamoDB's 400 KB item limit."""

from __future__ import annotations

import time

import pytest

from llm_mesh.stores.memory.responses import MemoryResponseStore
from llm_mesh.stores.sqlite.responses import SqliteResponseStore
from tests.cost.stores import store_factory


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def make_store(request, tmp_path):
    if request.param == "memory":
        shared = MemoryResponseStore()
        yield lambda: shared
        return
    yield from store_factory(request, tmp_path, SqliteResponseStore, "RESPONSES",
                             "llm_mesh.stores.dynamodb.responses:DynamoResponseStore")


def _response(response_id: str, text: str = "hi") -> dict:
    return {"id": response_id, "object": "response", "status": "completed",
            "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}]}


ITEMS = [{"type": "message", "id": "msg_0", "role": "user", "content": [{"type": "input_text", "text": "é 你好"}]},
         {"type": "function_call_output", "id": "fco_0", "call_id": "c1", "output": "ok", "status": "completed"}]


def test_put_get_input_items_and_a_second_instance_sees_them(make_store):
    store, now = make_store(), time.time()
    assert store.get("bot", "resp_1", now) is None and store.input_items("bot", "resp_1", now) is None
    store.put("bot", _response("resp_1"), ITEMS, now + 60)
    other = make_store()
    assert other.get("bot", "resp_1", now) == _response("resp_1")
    assert other.input_items("bot", "resp_1", now) == ITEMS
    store.put("bot", _response("resp_1", "again"), ITEMS[:1], now + 60)  # replaced
    assert other.get("bot", "resp_1", now)["output"][0]["content"][0]["text"] == "again"
    assert other.input_items("bot", "resp_1", now) == ITEMS[:1]


def test_another_apps_id_is_not_there(make_store):
    store, now = make_store(), time.time()
    store.put("bot", _response("resp_2"), ITEMS, now + 60)
    assert store.get("other", "resp_2", now) is None
    assert store.input_items("other", "resp_2", now) is None
    assert store.delete("other", "resp_2") is False
    assert store.get("bot", "resp_2", now) is not None


def test_expired_entries_are_invisible(make_store):
    store, now = make_store(), time.time()
    store.put("bot", _response("resp_3"), ITEMS, now + 60)
    store.put("bot", _response("resp_4"), ITEMS, now - 1)
    assert store.get("bot", "resp_3", now + 61) is None and store.input_items("bot", "resp_3", now + 61) is None
    assert store.get("bot", "resp_4", now) is None


def test_delete_removes_the_response_and_its_input_items(make_store):
    store, now = make_store(), time.time()
    store.put("bot", _response("resp_5"), ITEMS, now + 60)
    assert store.delete("bot", "resp_5") is True
    assert store.get("bot", "resp_5", now) is None and store.input_items("bot", "resp_5", now) is None
    assert store.delete("bot", "resp_5") is False


def test_a_conversation_past_the_item_limit_round_trips(make_store):
    store, now = make_store(), time.time()
    # ~2 MB of incompressible-ish text: DynamoDB cuts it into parts
    big = [{"type": "message", "id": f"msg_{n}", "role": "user",
            "content": [{"type": "input_text", "text": f"{n}:" + "".join(chr(0x4E00 + (n * 7919 + k * 104729) % 20000)
                                                                         for k in range(2000))}]}
           for n in range(300)]
    store.put("bot", _response("resp_6", "x" * 500_000), big, now + 60)
    assert make_store().input_items("bot", "resp_6", now) == big
    assert len(make_store().get("bot", "resp_6", now)["output"][0]["content"][0]["text"]) == 500_000
    if hasattr(store, "_client"):  # DynamoDB: the record was cut into parts, and every part expires with TTL
        items = store._client.scan(TableName=store._table)["Items"]
        assert any(item["item"]["S"].startswith("part#") for item in items)
        assert all(int(item["expires_at"]["N"]) >= now + 59 for item in items)
    assert store.delete("bot", "resp_6") is True
    assert make_store().input_items("bot", "resp_6", now) is None


def test_sqlite_delete_leaves_no_content_in_the_file(tmp_path):
    import sqlite3

    from llm_mesh.stores.sqlite.connection import SqliteDatabase

    db = SqliteDatabase(tmp_path / "mesh.db")
    store, now, secret = SqliteResponseStore(db), time.time(), "zq-unique-content-7781"
    store.put("bot", _response("resp_7", secret * 50), ITEMS, now + 60)
    store.put("bot", _response("resp_8"), ITEMS, now + 60)  # a neighbour on the same page stays
    assert store.delete("bot", "resp_7") is True
    db.close()
    checkpoint = sqlite3.connect(tmp_path / "mesh.db")
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoint.close()
    # (with secure_delete OFF the content stays in the page: this test then fails)
    assert all(secret.encode() not in p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
