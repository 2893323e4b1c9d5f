"""Write sharding on DynamoDB Local: the request log's day index and the cost ledger's records
and aggregates are spread over shards (no single hot key takes every request), reads merge
the shards exactly, and items written before sharding are still read."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from llm_mesh.stores.dynamodb import codec, tables
from llm_mesh.stores.dynamodb.ledger import SHARDS, DynamoLedgerStore
from llm_mesh.stores.dynamodb.request_log import DAY_SHARDS, DynamoRequestLogStore
from llm_mesh.stores.interfaces import CostRecord, RequestLogEntry
from tests.cost.stores import _create

T0 = 1_793_491_200.0  # 2026-11-01T00:00:00Z
DAY = "2026-11-01"


@pytest.fixture()
def table(dynamodb_local_client: Any):
    def make(spec_name: str) -> str:
        name = f"shard-{spec_name.lower()}-{uuid.uuid4().hex[:8]}"
        _create(dynamodb_local_client, getattr(tables, spec_name), name)
        return name

    return make


def _scan(client: Any, name: str) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator("scan").paginate(TableName=name) for item in page["Items"]]


def _entry(i: int, ts: float) -> RequestLogEntry:
    return RequestLogEntry(request_id=f"req_{i:04d}", timestamp=ts, app="a", route="r", provider="p", model="m",
                           endpoint="chat", status=200, stream=False, latency_ms=1.0, upstream_ms=0.5, overhead_ms=0.5,
                           prompt_tokens=1, completion_tokens=1, total_tokens=2)


def test_the_day_index_is_sharded_and_recent_merges_newest_first(dynamodb_local_client: Any, table) -> None:
    name = table("REQUESTS")
    store = DynamoRequestLogStore(dynamodb_local_client, name, clock=lambda: T0 + 3600)
    entries = [_entry(i, T0 + i) for i in range(120)]
    store.append_many(entries)
    # an item from before sharding: a plain day value
    legacy = store._item(_entry(999, T0 + 500))
    legacy["day"] = codec.s(DAY)
    dynamodb_local_client.put_item(TableName=name, Item=legacy)
    days = {item["day"]["S"] for item in _scan(dynamodb_local_client, name)}
    assert len(days - {DAY}) >= DAY_SHARDS // 2, days  # spread, not one hot key
    newest = [e.request_id for e in store.recent(limit=30)]
    expected = ["req_0999"] + [f"req_{i:04d}" for i in range(119, 90, -1)]
    assert newest == expected


def _record(i: int, app: str, model: str) -> CostRecord:
    return CostRecord(request_id=f"req_{i}", timestamp=T0 + i, app=app, route="chat", provider="openai", model=model,
                      prompt_tokens=10, completion_tokens=5, cost_usd=str(Decimal(i + 1) / Decimal(10**9)))


def test_ledger_records_and_aggregates_are_sharded_and_merge_exactly(dynamodb_local_client: Any, table) -> None:
    name = table("LEDGER")
    store = DynamoLedgerStore(dynamodb_local_client, name)
    records = [_record(i, "bot", "m1" if i % 3 else "m2") for i in range(96)]
    assert all(store.record(r) for r in records)
    # an aggregate and a record from before sharding
    dynamodb_local_client.put_item(TableName=name, Item={
        "pk": codec.s(f"A#{DAY}"), "sk": codec.s("bot#m1"), "app": codec.s("bot"), "model": codec.s("m1"),
        "requests": codec.num(1), "prompt_tokens": codec.num(10), "completion_tokens": codec.num(5),
        "cost_nano": codec.num(1000), "avoided_nano": codec.num(0), "cache_hits": codec.num(0)})
    old = _record(5000, "bot", "m1")
    from llm_mesh.stores.dynamodb.ledger import _item

    legacy = _item(old)
    legacy["pk"] = codec.s(f"R#bot#{DAY}")
    dynamodb_local_client.put_item(TableName=name, Item=legacy)
    items = _scan(dynamodb_local_client, name)
    record_partitions = {i["pk"]["S"] for i in items if i["pk"]["S"].startswith("R#")}
    aggregate_items = [i for i in items if i["pk"]["S"] == f"A#{DAY}"]
    assert len(record_partitions) >= SHARDS // 2 and len(aggregate_items) >= SHARDS, (record_partitions, len(aggregate_items))
    merged = {(a.app, a.model): a for a in store.aggregates(DAY, DAY)}
    assert set(merged) == {("bot", "m1"), ("bot", "m2")}
    m1 = [r for r in records if r.model == "m1"]
    assert merged[("bot", "m1")].requests == len(m1) + 1
    assert merged[("bot", "m1")].cost_nano == sum(int(Decimal(r.cost_usd) * 10**9) for r in m1) + 1000
    assert merged[("bot", "m2")].requests == len(records) - len(m1)
    got = store.records(T0, T0 + 86400)
    assert [r.request_id for r in got] == [r.request_id for r in records] + ["req_5000"]
    assert store.record(records[0]) is False  # a retry lands on the same shard: still deduplicated
