"""LedgerStore contract on SQLite and DynamoDB Local: records and (day, app, model)
aggregates written together, idempotent by request id, aggregates == sum of records exactly
under concurrent writers. ``-k sqlite`` never starts Java."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from llm_mesh.stores.interfaces import CostRecord
from llm_mesh.stores.sqlite.ledger import SqliteLedgerStore
from tests.cost.stores import store_factory

T0 = 1_793_491_200.0  # 2026-11-01T00:00:00Z


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request, tmp_path):
    yield from store_factory(request, tmp_path, SqliteLedgerStore, "LEDGER", "llm_mesh.stores.dynamodb.ledger:DynamoLedgerStore")


def rec(i: int, app: str = "bot", model: str = "gpt-4o", ts: float = T0, cost: str = "0.000123456", **kw) -> CostRecord:
    return CostRecord(request_id=f"req_{i}", timestamp=ts, app=app, route="chat", provider="openai", model=model,
                      prompt_tokens=10, completion_tokens=5, cost_usd=cost, tags={"purpose": "test"}, **kw)


def test_record_roundtrip_and_aggregate(make_store):
    store = make_store()
    first = rec(1, team="cx", project="help", user="u1", cache_hit=True, avoided_usd="0.5", estimated=True)
    assert store.record(first) is True
    assert store.record(first) is False  # idempotent: no double count
    store.record(rec(2, ts=T0 + 60, cost="0.000000001"))
    store.record(rec(3, model="claude", ts=T0 + 120))
    store.record(rec(4, app="other", ts=T0 + 86400))  # next day
    got = store.records(T0, T0 + 86400 * 2)
    assert [r.request_id for r in got] == ["req_1", "req_2", "req_3", "req_4"]
    assert got[0] == first
    assert [r.request_id for r in store.records(T0, T0 + 86400 * 2, app="other")] == ["req_4"]
    assert [r.request_id for r in store.records(T0 + 60, T0 + 120)] == ["req_2"]  # until exclusive
    aggregates = {(a.day, a.app, a.model): a for a in store.aggregates("2026-11-01", "2026-11-02")}
    gpt = aggregates[("2026-11-01", "bot", "gpt-4o")]
    assert (gpt.requests, gpt.prompt_tokens, gpt.completion_tokens) == (2, 20, 10)
    assert gpt.cost_nano == 123456 + 1 and gpt.avoided_nano == 500_000_000 and gpt.cache_hits == 1
    assert set(aggregates) == {("2026-11-01", "bot", "gpt-4o"), ("2026-11-01", "bot", "claude"), ("2026-11-02", "other", "gpt-4o")}
    assert [a.app for a in store.aggregates("2026-11-02", "2026-11-02", app="other")] == ["other"]
    assert store.aggregates("2026-11-02", "2026-11-02", app="bot") == []
    store.record(rec(5, ts=T0 - 400 * 86400))  # older than the 366-day window of one query
    assert [r.request_id for r in store.records(0, T0 + 1)] == ["req_1"]
    assert [r.request_id for r in store.records(T0 - 401 * 86400, T0 - 399 * 86400)] == ["req_5"]


def test_concurrent_writers_aggregates_equal_sum_of_records(make_store):
    rng = random.Random(7)
    records = [rec(i, app=rng.choice(["a", "b"]), model=rng.choice(["m1", "m2"]), ts=T0 + i,
                   cost=str(Decimal(rng.randrange(1, 10**7)) / Decimal(10**9))) for i in range(200)]
    stores = [make_store() for _ in range(8)]
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda pair: stores[pair[0] % 8].record(pair[1]), enumerate(records)))
    assert all(results)
    written = make_store().records(T0, T0 + 1000)
    assert len(written) == 200
    expected: dict[tuple[str, str], int] = {}
    for r in written:
        expected[(r.app, r.model)] = expected.get((r.app, r.model), 0) + int(Decimal(r.cost_usd) * 10**9)
    got = {(a.app, a.model): a.cost_nano for a in make_store().aggregates("2026-11-01", "2026-11-01")}
    assert got == expected
    assert sum(got.values()) == sum(int(Decimal(r.cost_usd) * 10**9) for r in records)
