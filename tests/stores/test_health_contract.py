"""TargetHealthStore contract: the in-memory reference, SQLite and DynamoDB (DynamoDB Local)
must agree on every transition of the shared circuit breaker, and count concurrent
failures exactly. ``-k "memory or sqlite"`` never starts Java."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest

from llm_mesh.routing.memory_health import InMemoryHealthStore
from llm_mesh.stores.interfaces import TargetHealth
from llm_mesh.stores.sqlite.connection import SqliteDatabase
from llm_mesh.stores.sqlite.health import SqliteTargetHealthStore

T0 = 1_700_000_000.0
MODULE_TAG = uuid.uuid4().hex[:8]


def _dynamo_session():
    import boto3

    return boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name="us-east-1")


def create_table(client, spec, name: str) -> None:
    from llm_mesh.stores.dynamodb.admin import table_definition

    client.create_table(**table_definition(spec, name))
    for _ in range(200):
        if client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise TimeoutError(name)


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def make_store(request, tmp_path):
    """A factory of store instances over one shared state (each like another Lambda instance)."""
    if request.param == "memory":
        shared = InMemoryHealthStore()
        yield lambda: shared
        return
    if request.param == "sqlite":
        path = tmp_path / "mesh.db"
        dbs: list[SqliteDatabase] = []

        def sqlite_store():
            db = SqliteDatabase(path)
            dbs.append(db)
            return SqliteTargetHealthStore(db)

        yield sqlite_store
        for db in dbs:
            db.close()
        return

    from llm_mesh.stores.dynamodb.client import make_client
    from llm_mesh.stores.dynamodb.health import DynamoTargetHealthStore
    from llm_mesh.stores.dynamodb.tables import HEALTH

    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    admin = request.getfixturevalue("dynamodb_local_client")
    name = f"health-{MODULE_TAG}-{uuid.uuid4().hex[:8]}"
    create_table(admin, HEALTH, name)
    clients = []

    def dynamo_store():
        client = make_client(endpoint_url=endpoint, region_name="us-east-1", session=_dynamo_session())
        clients.append(client)
        return DynamoTargetHealthStore(client, name)

    yield dynamo_store
    for client in clients:
        client.close()
    admin.delete_table(TableName=name)


@pytest.fixture
def store(make_store):
    return make_store()


def test_unknown_targets_are_absent(store):
    assert store.get_health([]) == {}
    assert store.get_health(["openai/gpt-4o", "anthropic/claude"]) == {}
    store.record_failure("openai/gpt-4o", T0, 3, 60, 30)
    got = store.get_health(["openai/gpt-4o", "anthropic/claude", "openai/gpt-4o"])
    assert set(got) == {"openai/gpt-4o"}


def test_opens_at_threshold_within_window(store):
    target = "openai/gpt-4o"
    first = store.record_failure(target, T0, 3, 60, 30)
    assert first == TargetHealth(target, 1, T0, 0.0)
    second = store.record_failure(target, T0 + 10, 3, 60, 30)
    assert second == TargetHealth(target, 2, T0, 0.0)
    assert not second.is_open(T0 + 10)
    third = store.record_failure(target, T0 + 20, 3, 60, 30)
    assert third == TargetHealth(target, 3, T0, T0 + 50)
    assert third.is_open(T0 + 20) and third.is_open(T0 + 49.9) and not third.is_open(T0 + 50)
    assert store.get_health([target]) == {target: third}
    assert type(third.window_start) is float and type(third.failures) is int


def test_expired_window_starts_a_new_count(store):
    target = "mistral/large"
    store.record_failure(target, T0, 3, 60, 30)
    store.record_failure(target, T0 + 30, 3, 60, 30)
    fresh = store.record_failure(target, T0 + 61, 3, 60, 30)  # window [T0, T0+60] is over
    assert fresh == TargetHealth(target, 1, T0 + 61, 0.0)
    store.record_failure(target, T0 + 70, 3, 60, 30)
    opened = store.record_failure(target, T0 + 120, 3, 60, 30)  # 59 s after the new start
    assert opened == TargetHealth(target, 3, T0 + 61, T0 + 150)


def test_failures_while_open_extend_the_cooldown(store):
    target = "cohere/command"
    for dt in (0, 1, 2):
        store.record_failure(target, T0 + dt, 3, 60, 30)
    assert store.get_health([target])[target].open_until == T0 + 32
    extended = store.record_failure(target, T0 + 10, 3, 60, 30)
    assert extended == TargetHealth(target, 4, T0, T0 + 40)
    assert extended.is_open(T0 + 39) and not extended.is_open(T0 + 40)


def test_half_open_probe_failure_reopens_at_once(store):
    target = "bedrock/claude"
    for dt in (0, 1, 2):
        store.record_failure(target, T0 + dt, 3, 60, 30)  # open until T0+32
    # The cool-down ended: traffic flows again, and the first failure (the probe) re-opens it.
    reopened = store.record_failure(target, T0 + 40, 3, 60, 30)
    assert reopened == TargetHealth(target, 4, T0, T0 + 70)
    # Long after the cool-down and the window: still the half-open rule, not a new window.
    later = store.record_failure(target, T0 + 500, 3, 60, 30)
    assert later == TargetHealth(target, 5, T0, T0 + 530)
    # While open with the window expired: a new window, the cool-down kept.
    during = store.record_failure(target, T0 + 510, 3, 60, 30)
    assert during == TargetHealth(target, 1, T0 + 510, T0 + 530)
    assert store.get_health([target]) == {target: during}


def test_threshold_one_opens_on_first_failure(store):
    got = store.record_failure("vllm/llama", T0, 1, 60, 15)
    assert got == TargetHealth("vllm/llama", 1, T0, T0 + 15)
    again = store.record_failure("vllm/llama", T0 + 100, 1, 60, 15)  # half-open probe failed
    assert again == TargetHealth("vllm/llama", 2, T0, T0 + 115)


def test_success_clears_state(store):
    target, other = "openai/gpt-4o", "openai/gpt-4o-mini"
    for dt in (0, 1, 2):
        store.record_failure(target, T0 + dt, 3, 60, 30)
    store.record_failure(other, T0, 3, 60, 30)
    store.record_success(target)
    assert store.get_health([target, other]).keys() == {other}
    assert store.record_failure(target, T0 + 5, 3, 60, 30) == TargetHealth(target, 1, T0 + 5, 0.0)
    store.record_success("never/seen")  # no error
    store.record_success(target)
    store.record_success(target)
    assert store.get_health([target]) == {}


def test_get_health_many_targets(store):
    targets = [f"p{i}/m{i}" for i in range(130)]  # more than one BatchGetItem chunk
    for i, target in enumerate(targets[:105]):
        store.record_failure(target, T0 + i, 2, 60, 30)
    got = store.get_health(targets)
    assert len(got) == 105
    assert got["p104/m104"] == TargetHealth("p104/m104", 1, T0 + 104, 0.0)


def test_matches_the_reference_on_random_sequences(store):
    reference = InMemoryHealthStore()
    rng = random.Random(20240611)
    targets = ["a/x", "b/y", "c/z"]
    now = T0
    for step in range(150):
        now += rng.choice([0.5, 1, 3, 7, 20, 45, 61])
        target = rng.choice(targets)
        threshold = rng.choice([1, 2, 3, 5])
        if rng.random() < 0.1:
            reference.record_success(target)
            store.record_success(target)
            continue
        expected = reference.record_failure(target, now, threshold, 30.0, 25.0)
        got = store.record_failure(target, now, threshold, 30.0, 25.0)
        assert got == expected, f"step {step}"
    assert store.get_health(targets) == reference.get_health(targets)


def test_concurrent_failures_are_counted_exactly(make_store):
    threads_n, per_thread = 6, 20
    stores = [make_store() for _ in range(threads_n)]  # like separate instances
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    results: list[TargetHealth] = []

    def work(s) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                results.append(s.record_failure("hot/target", T0 + i * 0.01, 10**6, 3600, 30))
                results.append(s.record_failure("tripping/target", T0 + i * 0.01, 50, 3600, 30))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(s,)) for s in stores]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    total = threads_n * per_thread
    health = stores[0].get_health(["hot/target", "tripping/target"])
    assert health["hot/target"].failures == total
    assert health["hot/target"].open_until == 0.0
    assert health["tripping/target"].failures == total
    assert health["tripping/target"].open_until > T0
    # Every call saw a distinct count: no two increments were merged.
    hot_counts = sorted(r.failures for r in results if r.target == "hot/target")
    assert hot_counts == list(range(1, total + 1))


def test_dynamodb_item_has_ttl(dynamodb_local_endpoint, dynamodb_local_client):
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores
    from llm_mesh.stores.dynamodb.tables import TABLES

    # A current time: DynamoDB Local's TTL sweeper may delete an item whose expires_at is already past.
    t0 = time.time()
    names = {spec.logical: f"healthttl-{MODULE_TAG}-{spec.logical}" for spec in TABLES}
    create_tables(dynamodb_local_client, names)
    with open_dynamodb_stores(names, endpoint_url=dynamodb_local_endpoint, session=_dynamo_session()) as bundle:
        bundle.health.record_failure("openai/gpt-4o", t0, 3, 60, 300)
        assert bundle.health.get_health(["openai/gpt-4o"])["openai/gpt-4o"].failures == 1
    item = dynamodb_local_client.get_item(TableName=names["health"], Key={"target": {"S": "openai/gpt-4o"}})["Item"]
    assert int(item["expires_at"]["N"]) == int(t0 + 300 + 86400)
    ttl = dynamodb_local_client.describe_time_to_live(TableName=names["health"])["TimeToLiveDescription"]
    assert ttl.get("AttributeName") == "expires_at"
    for name in names.values():
        dynamodb_local_client.delete_table(TableName=name)


def test_bundles_expose_health(tmp_path):
    from llm_mesh.stores.sqlite import open_sqlite_stores

    with open_sqlite_stores(tmp_path / "m.db") as bundle:
        bundle.health.record_failure("x/y", T0, 2, 60, 30)
        assert bundle.health.get_health(["x/y"])["x/y"].failures == 1


class StripOldItem:
    """A DynamoDB client whose conditional-check failures carry no item, as when the
    service ignores ReturnValuesOnConditionCheckFailure: the store must re-read instead."""

    def __init__(self, client) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def __getattr__(self, name):
        call = getattr(self._client, name)
        if name not in ("update_item", "put_item"):
            return call

        def wrapped(**kwargs):
            try:
                return call(**kwargs)
            except self._client.exceptions.ConditionalCheckFailedException as exc:
                exc.response.pop("Item", None)
                raise

        return wrapped


def test_dynamodb_without_old_item_on_conflict(dynamodb_local_endpoint, dynamodb_local_client):
    from llm_mesh.stores.dynamodb.client import make_client
    from llm_mesh.stores.dynamodb.health import DynamoTargetHealthStore
    from llm_mesh.stores.dynamodb.tables import HEALTH

    name = f"health-{MODULE_TAG}-strip"
    create_table(dynamodb_local_client, HEALTH, name)
    client = make_client(endpoint_url=dynamodb_local_endpoint, region_name="us-east-1", session=_dynamo_session())
    store = DynamoTargetHealthStore(StripOldItem(client), name)
    reference = InMemoryHealthStore()
    rng = random.Random(5)
    now = T0
    for step in range(60):
        now += rng.choice([1, 10, 31, 70])
        expected = reference.record_failure("a/x", now, 3, 30.0, 25.0)
        assert store.record_failure("a/x", now, 3, 30.0, 25.0) == expected, step
    client.close()
    dynamodb_local_client.delete_table(TableName=name)
