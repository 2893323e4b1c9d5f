"""CacheStore contract on SQLite and DynamoDB Local: exact entries with expiry, semantic vectors per partition."""

from __future__ import annotations

import time

import pytest

from llm_mesh.cost.cache import pack
from llm_mesh.stores.sqlite.cache import SqliteCacheStore
from tests.cost.stores import store_factory


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request, tmp_path):
    yield from store_factory(request, tmp_path, SqliteCacheStore, "CACHE", "llm_mesh.stores.dynamodb.cache:DynamoCacheStore")


def test_exact_entries_expire(make_store):
    store, now = make_store(), time.time()
    assert store.get("k1", now) is None
    store.put("k1", "bot", '{"a":1}', now + 60)
    store.put("k2", "bot", '{"b":2}', now - 1)  # already expired
    assert store.get("k1", now) == '{"a":1}'
    assert store.get("k1", now + 61) is None
    assert store.get("k2", now) is None
    store.put("k1", "bot", '{"a":3}', now + 60)  # replaced
    assert make_store().get("k1", now) == '{"a":3}'


def test_vectors_are_partitioned_and_newest_first(make_store):
    store, now = make_store(), time.time()
    store.put_vector("bot#faq", "e1", pack([1.0, 0.0]), "one", now + 60)
    time.sleep(0.002)
    store.put_vector("bot#faq", "e2", pack([0.0, 1.0]), "two", now + 60)
    store.put_vector("other#faq", "e3", pack([1.0, 0.0]), "theirs", now + 60)
    store.put_vector("bot#faq", "e4", pack([1.0, 1.0]), "old", now - 1)
    got = store.vectors("bot#faq", now, 10)
    assert [value for _, value in got] == ["two", "one"]
    assert got[1][0] == pack([1.0, 0.0])
    assert [value for _, value in store.vectors("bot#faq", now, 1)] == ["two"]
    assert [value for _, value in store.vectors("other#faq", now, 10)] == ["theirs"]
