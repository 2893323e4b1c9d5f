"""RateLimitStore contract on SQLite and DynamoDB Local: conditional fixed-window counters."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_mesh.stores.sqlite.ratelimit import SqliteRateLimitStore
from tests.cost.stores import store_factory

EXP = time.time() + 86_400  # far enough ahead that a long test session never reaches it (expired windows are swept)


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request, tmp_path):
    yield from store_factory(request, tmp_path, SqliteRateLimitStore, "RATELIMITS", "llm_mesh.stores.dynamodb.ratelimit:DynamoRateLimitStore")


def test_hit_until_limit_then_refuse(make_store):
    store = make_store()
    assert [store.hit("rpm#app#a#1", 1, 3, EXP) for _ in range(4)] == [1, 2, 3, None]
    assert store.hit("rpm#app#a#2", 1, 3, EXP) == 1  # the next window starts afresh
    assert store.hit("tpm#app#a#1", 500, 1000, EXP) == 500
    assert store.hit("tpm#app#a#1", 600, 1000, EXP) is None
    assert store.add("tpm#app#a#1", -300, EXP) == 200  # a reservation corrected down
    assert store.hit("tpm#app#a#1", 800, 1000, EXP) == 1000
    assert store.hit("tpm#app#a#1", 2000, 1000, EXP) is None


def test_concurrent_hits_admit_exactly_the_limit(make_store):
    stores = [make_store() for _ in range(4)]
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: stores[i % 4].hit("rpm#route#r#9", 1, 50, EXP), range(120)))
    assert sorted(r for r in results if r is not None) == list(range(1, 51))
