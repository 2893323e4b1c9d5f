"""One contract suite for every store adapter: SQLite (tmp file) and DynamoDB (DynamoDB Local).

The ``stores`` fixture is parametrized; the DynamoDB half gets fresh tables with
unique names for every test, so tests never see each other's data. Selecting
only ``-k sqlite`` never starts Java.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from decimal import Decimal

import pytest

from llm_mesh.stores.dynamodb.request_log import DAY_SHARDS
from llm_mesh.stores.interfaces import ApiKeyRecord, RequestLogEntry, StoreBundle
from llm_mesh.stores.sqlite import open_sqlite_stores

DAY = 86400.0
MODULE_TAG = uuid.uuid4().hex[:8]  # unique per module import (per xdist worker)


def _dynamo_session():
    import boto3

    return boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name="us-east-1")


@pytest.fixture(params=["sqlite", "dynamodb"])
def stores(request, tmp_path):
    if request.param == "sqlite":
        bundle = open_sqlite_stores(tmp_path / "nested" / ".mesh" / "mesh.db")
        yield bundle
        bundle.close()
        return

    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores
    from llm_mesh.stores.dynamodb.tables import TABLES

    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    client = request.getfixturevalue("dynamodb_local_client")
    test_tag = uuid.uuid4().hex[:8]
    names = {spec.logical: f"contract-{MODULE_TAG}-{test_tag}-{spec.logical}" for spec in TABLES}
    create_tables(client, names)
    bundle = open_dynamodb_stores(names, endpoint_url=endpoint, region_name="us-east-1", session=_dynamo_session())
    yield bundle
    bundle.close()
    for name in names.values():
        client.delete_table(TableName=name)


# -- helpers -----------------------------------------------------------------


def key(key_id: str, app: str, created_at: float, revoked_at: float | None = None) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_id,
        app=app,
        key_hash=f"{key_id}-hash-" + "ab" * 28,
        prefix=f"mk-{key_id[:4]}",
        created_at=created_at,
        revoked_at=revoked_at,
    )


def entry(request_id: str, timestamp: float, app: str = "app-a", **overrides) -> RequestLogEntry:
    fields = dict(
        request_id=request_id,
        timestamp=timestamp,
        app=app,
        route="support-chat",
        provider="openai",
        model="gpt-4o-mini",
        endpoint="chat.completions",
        status=200,
        stream=False,
        latency_ms=12.5,
        upstream_ms=11.25,
        overhead_ms=1.25,
    )
    fields.update(overrides)
    return RequestLogEntry(**fields)


def ids(entries) -> list[str]:
    return [e.request_id for e in entries]


# -- bundle ------------------------------------------------------------------


def test_bundle_satisfies_protocol_and_pings(stores):
    bundle: StoreBundle = stores
    assert bundle.ping() is True
    assert bundle.keys.list_keys() == []
    assert bundle.request_log.recent() == []


# -- API keys ----------------------------------------------------------------


def test_put_then_get_by_hash_round_trips_every_field(stores):
    record = key("key_0001", "app-a", 1_732_000_000.123456)
    stores.keys.put_key(record)
    got = stores.keys.get_by_hash(record.key_hash)
    assert got == record
    assert type(got.created_at) is float
    assert got.revoked_at is None and got.active


def test_get_by_unknown_hash_is_none(stores):
    stores.keys.put_key(key("key_0001", "app-a", 100.0))
    assert stores.keys.get_by_hash("0" * 64) is None


def test_put_key_with_revoked_at_round_trips(stores):
    record = key("key_0002", "app-a", 100.5, revoked_at=200.25)
    stores.keys.put_key(record)
    got = stores.keys.get_by_hash(record.key_hash)
    assert got == record
    assert not got.active


def test_list_keys_newest_first_and_filtered_by_app(stores):
    a1, a2, a3 = key("key_a1", "app-a", 100.0), key("key_a2", "app-a", 200.0), key("key_a3", "app-a", 300.0)
    b1 = key("key_b1", "app-b", 250.0)
    for record in (a2, b1, a1, a3):  # stored out of order on purpose
        stores.keys.put_key(record)

    assert stores.keys.list_keys() == [a3, b1, a2, a1]
    assert stores.keys.list_keys("app-a") == [a3, a2, a1]
    assert stores.keys.list_keys("app-b") == [b1]
    assert stores.keys.list_keys("app-none") == []


def test_revoke_marks_key_and_keeps_first_revocation_time(stores):
    target, other = key("key_t", "app-a", 100.0), key("key_o", "app-a", 101.0)
    stores.keys.put_key(target)
    stores.keys.put_key(other)

    assert stores.keys.revoke("key_t", 500.5) is True
    revoked = stores.keys.get_by_hash(target.key_hash)
    assert revoked.revoked_at == 500.5
    assert not revoked.active
    assert (revoked.key_id, revoked.app, revoked.prefix, revoked.created_at) == (
        target.key_id,
        target.app,
        target.prefix,
        target.created_at,
    )
    assert stores.keys.get_by_hash(other.key_hash) == other  # untouched

    assert stores.keys.revoke("key_t", 900.0) is True  # idempotent: the first time stays
    assert stores.keys.get_by_hash(target.key_hash).revoked_at == 500.5

    listed = {r.key_id: r for r in stores.keys.list_keys("app-a")}
    assert listed["key_t"].revoked_at == 500.5 and listed["key_o"].active


def test_revoke_unknown_key_is_false_and_changes_nothing(stores):
    record = key("key_1", "app-a", 100.0)
    stores.keys.put_key(record)
    assert stores.keys.revoke("key_missing", 500.0) is False
    assert stores.keys.list_keys() == [record]


# -- request log -------------------------------------------------------------


def test_append_then_get_round_trips_every_field(stores):
    full = entry(
        "req-full",
        time.time(),
        app="app-z",
        route="rag",
        provider="anthropic",
        model="claude-3-5-sonnet",
        endpoint="messages",
        status=502,
        stream=True,
        latency_ms=812.375,
        upstream_ms=800.125,
        overhead_ms=12.25,
        prompt_tokens=1234,
        completion_tokens=56,
        total_tokens=1290,
        error_code="upstream_error",
        attempts=3,
        time_to_first_token_ms=95.5,
        tags={"team": "support", "purpose": "billing"},
    )
    stores.request_log.append(full)
    got = stores.request_log.get("req-full")
    assert got == full
    assert got.stream is True and type(got.status) is int


def test_get_unknown_request_is_none(stores):
    stores.request_log.append(entry("req-1", time.time()))
    assert stores.request_log.get("req-nope") is None


def test_defaults_and_optionals_round_trip(stores):
    minimal = entry("req-min", time.time())
    stores.request_log.append(minimal)
    got = stores.request_log.get("req-min")
    assert got == minimal
    assert got.error_code is None and got.time_to_first_token_ms is None
    assert got.tags == {} and got.attempts == 1 and got.prompt_tokens == 0


def test_append_same_request_id_replaces(stores):
    now = time.time()
    stores.request_log.append(entry("req-1", now, status=200))
    stores.request_log.append(entry("req-1", now, status=429, error_code="rate_limited"))
    assert stores.request_log.get("req-1").status == 429
    assert ids(stores.request_log.recent()) == ["req-1"]


def test_recent_is_newest_first_with_app_filter_and_limit(stores):
    base = time.time() - 600
    entries = [entry(f"req-{i:02d}", base + i * 1.5, app="app-a" if i % 3 else "app-b") for i in range(12)]
    shuffled = entries[:]
    random.Random(7).shuffle(shuffled)
    for e in shuffled:
        stores.request_log.append(e)

    newest_first = sorted(entries, key=lambda e: e.timestamp, reverse=True)
    assert stores.request_log.recent() == newest_first
    assert stores.request_log.recent(limit=5) == newest_first[:5]
    only_b = [e for e in newest_first if e.app == "app-b"]
    assert ids(only_b) == ["req-09", "req-06", "req-03", "req-00"]
    assert stores.request_log.recent(app="app-b") == only_b
    assert stores.request_log.recent(limit=2, app="app-b") == only_b[:2]
    assert stores.request_log.recent(app="app-none") == []
    assert stores.request_log.recent(limit=0) == []


def test_recent_spans_earlier_days(stores):
    now = time.time()
    today, yesterday, three_days_ago = entry("req-t", now), entry("req-y", now - DAY), entry("req-3", now - 3 * DAY)
    stores.request_log.append_many([three_days_ago, today, yesterday])
    assert ids(stores.request_log.recent()) == ["req-t", "req-y", "req-3"]
    assert ids(stores.request_log.recent(limit=2)) == ["req-t", "req-y"]
    assert ids(stores.request_log.recent(app="app-a")) == ["req-t", "req-y", "req-3"]


def test_append_many_writes_everything_across_batches(stores):
    base = time.time() - 300
    batch = [entry(f"bulk-{i:03d}", base + i, app=f"app-{i % 2}", prompt_tokens=i) for i in range(60)]
    stores.request_log.append_many(batch)
    stores.request_log.append_many([])  # no-op

    assert stores.request_log.recent(limit=100) == sorted(batch, key=lambda e: e.timestamp, reverse=True)
    assert stores.request_log.get("bulk-037") == batch[37]
    assert len(stores.request_log.recent(limit=100, app="app-1")) == 30


def test_numbers_round_trip_exactly(stores):
    tricky_floats = [0.1 + 0.2, 1 / 3, 1e-7, 123456.78901234567, 2.0**-30, 5e-324 * 1e300]
    now = time.time()
    log = [
        entry(
            f"num-{i}",
            now - i * 0.001,
            latency_ms=value,
            upstream_ms=value / 7,
            overhead_ms=value * 3,
            time_to_first_token_ms=value / 11,
            prompt_tokens=2**53 + 1 + i,
            completion_tokens=987_654_321,
            total_tokens=2**62,
        )
        for i, value in enumerate(tricky_floats)
    ]
    stores.request_log.append_many(log)
    for original in log:
        got = stores.request_log.get(original.request_id)
        assert got == original  # exact float equality, no decimal drift
        for name in ("timestamp", "latency_ms", "upstream_ms", "overhead_ms", "time_to_first_token_ms"):
            assert type(getattr(got, name)) is float, name
            assert getattr(got, name).hex() == getattr(original, name).hex(), name
        for name in ("prompt_tokens", "completion_tokens", "total_tokens", "status", "attempts"):
            assert type(getattr(got, name)) is int, name
    # Decimal(repr(x)) is the representation we promise: check it is lossless here too.
    assert all(float(Decimal(repr(v))) == v for v in tricky_floats)


def test_tags_round_trip(stores):
    tags = {"team": "Zürich ops", "cost.center": "cc-42", "empty": "", "emoji": "🚀", "k with spaces": "v=1&x"}
    stores.request_log.append(entry("req-tags", time.time(), tags=tags))
    got = stores.request_log.get("req-tags")
    assert got.tags == tags
    assert stores.request_log.recent()[0].tags == tags


def test_concurrent_appends_from_threads(stores):
    base = time.time() - 100
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(15):
                stores.request_log.append(entry(f"t{worker}-{i:02d}", base + worker * 20 + i))
                stores.keys.get_by_hash("nope")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = stores.request_log.recent(limit=100)
    assert len(got) == 60
    assert ids(got)[0] == "t3-14" and ids(got)[-1] == "t0-00"


# -- adapter-specific ----------------------------------------------------------


def test_sqlite_file_wal_and_reopen(tmp_path):
    path = tmp_path / "deep" / "er" / "mesh.db"
    first = open_sqlite_stores(str(path))
    first.keys.put_key(key("key_1", "app-a", 1.0))
    first.request_log.append(entry("req-1", 2.0))
    mode = first._db.connection().execute("PRAGMA journal_mode").fetchone()[0]
    first.close()
    assert path.is_file() and mode == "wal"
    assert first.ping() is False  # closed

    second = open_sqlite_stores(path)  # schema creation is idempotent, data persists
    assert second.keys.get_by_hash(key("key_1", "app-a", 1.0).key_hash).key_id == "key_1"
    assert second.request_log.get("req-1").timestamp == 2.0
    second.close()


def test_dynamodb_item_layout_has_day_ts_and_ttl(dynamodb_local_endpoint, dynamodb_local_client):
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores

    names = {"keys": f"layout-{MODULE_TAG}-keys", "requests": f"layout-{MODULE_TAG}-requests"}
    create_tables(dynamodb_local_client, names)
    create_tables(dynamodb_local_client, names)  # idempotent
    # Today at 00:00:00.25 UTC: an item that had already expired could be swept by DynamoDB Local's TTL mid-test.
    today = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    ts = today.timestamp() + 0.25
    with open_dynamodb_stores(
        names, endpoint_url=dynamodb_local_endpoint, session=_dynamo_session(), retention_days=2
    ) as bundle:
        bundle.request_log.append(entry("req-layout", ts))
    item = dynamodb_local_client.get_item(TableName=names["requests"], Key={"request_id": {"S": "req-layout"}})["Item"]
    day, _, shard = item["day"]["S"].partition("#")  # the day index is write-sharded: "<day>#<shard>"
    assert day == today.strftime("%Y-%m-%d") and 0 <= int(shard) < DAY_SHARDS
    assert item["ts"] == {"N": f"{int(today.timestamp())}.25"}
    assert int(item["expires_at"]["N"]) == int(ts + 2 * DAY)
    ttl = dynamodb_local_client.describe_time_to_live(TableName=names["requests"])["TimeToLiveDescription"]
    assert ttl.get("AttributeName") == "expires_at"
    for name in names.values():
        dynamodb_local_client.delete_table(TableName=name)


def test_dynamodb_table_names_from_env(monkeypatch, dynamodb_local_endpoint, dynamodb_local_client):
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores

    names = {"keys": f"env-{MODULE_TAG}-keys", "requests": f"env-{MODULE_TAG}-requests"}
    create_tables(dynamodb_local_client, names)
    monkeypatch.setenv("MESH_TABLE_KEYS", names["keys"])
    monkeypatch.setenv("MESH_TABLE_REQUESTS", names["requests"])
    with open_dynamodb_stores(endpoint_url=dynamodb_local_endpoint, session=_dynamo_session()) as bundle:
        assert bundle.table_names == names
        assert bundle.ping() is True
    monkeypatch.delenv("MESH_TABLE_REQUESTS")
    with pytest.raises(ValueError, match="MESH_TABLE_REQUESTS"):
        open_dynamodb_stores(endpoint_url=dynamodb_local_endpoint, session=_dynamo_session())
    for name in names.values():
        dynamodb_local_client.delete_table(TableName=name)


def test_dynamodb_ping_false_on_dead_endpoint_and_missing_table(dynamodb_local_endpoint):
    import socket

    from llm_mesh.stores.dynamodb import open_dynamodb_stores

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]  # nothing listens once closed
    names = {"keys": "k", "requests": "r"}
    start = time.monotonic()
    with open_dynamodb_stores(names, endpoint_url=f"http://127.0.0.1:{dead_port}", session=_dynamo_session()) as dead:
        assert dead.ping() is False
    assert time.monotonic() - start < 10
    missing = {"keys": f"missing-{MODULE_TAG}", "requests": f"missing-{MODULE_TAG}-r"}
    with open_dynamodb_stores(missing, endpoint_url=dynamodb_local_endpoint, session=_dynamo_session()) as bundle:
        assert bundle.ping() is False
