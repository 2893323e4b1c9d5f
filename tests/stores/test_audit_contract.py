"""AuditStore contract on SQLite and DynamoDB (DynamoDB Local): hash chains stay intact under
many and concurrent appends (several store instances, like several Lambda instances), and
verify_store catches a record changed or removed behind the store's back.
``-k sqlite`` never starts Java."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
import uuid
from typing import Any, Callable

import pytest

from llm_mesh.audit import chain
from llm_mesh.audit.keys import ChainKey
from llm_mesh.audit.verify import verify_store
from llm_mesh.stores.interfaces import GENESIS_HASH, AuditDraft, AuditRecord
from llm_mesh.stores.sqlite.audit import SqliteAuditStore
from llm_mesh.stores.sqlite.connection import SqliteDatabase

T0 = 1_700_000_000.0
MODULE_TAG = uuid.uuid4().hex[:8]
KEY = ChainKey(b"contract-test-chain-key-32-bytes")


def _dynamo_session():
    import boto3

    return boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name="us-east-1")


def draft(i: int, partition: str = "support", **overrides: Any) -> AuditDraft:
    fields = dict(
        partition=partition,
        record_id=f"req-{partition}-{i:04d}",
        timestamp=T0 + i,
        app=partition.split("#")[0],
        principal="arn:aws:iam::123456789012:role/app",
        purpose="support",
        route="support-chat",
        provider="openai",
        model="gpt-4o-mini",
        endpoint="chat.completions",
        status=200,
        decisions={"pii": {"EMAIL": 1}, "blocked": False, "guardrails": {"toxicity": 0.01}},
        prompt_tokens=100 + i,
        completion_tokens=20,
        cost_usd="0.000130",
        latency_ms=250.125,
        config_version="cfg-1",
        payload=None,
    )
    fields.update(overrides)
    return AuditDraft(**fields)


@dataclasses.dataclass
class Backend:
    kind: str
    new_store: Callable[[], Any]  # another instance over the same data
    tamper: Callable[[str, int, str, Any], None]  # (partition, seq, field, value) behind the store's back
    remove: Callable[[str, int], None]


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "mesh.db"
        dbs: list[SqliteDatabase] = []

        def new_store():
            db = SqliteDatabase(path)
            dbs.append(db)
            return SqliteAuditStore(db, key=KEY)

        def raw(sql: str, params: tuple) -> None:
            conn = sqlite3.connect(path)
            try:
                # What someone with the file can do: the append-only triggers do not stop them.
                conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
                conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
                conn.execute(sql, params)
                conn.commit()
            finally:
                conn.close()

        def tamper(partition: str, seq: int, field: str, value: Any) -> None:
            column = {"timestamp": "ts"}.get(field, field)
            raw(f"UPDATE audit_log SET {column} = ? WHERE partition = ? AND seq = ?", (value, partition, seq))

        def remove(partition: str, seq: int) -> None:
            raw("DELETE FROM audit_log WHERE partition = ? AND seq = ?", (partition, seq))

        yield Backend("sqlite", new_store, tamper, remove)
        for db in dbs:
            db.close()
        return

    from llm_mesh.stores.dynamodb.audit import DynamoAuditStore
    from llm_mesh.stores.dynamodb.client import make_client
    from llm_mesh.stores.dynamodb.tables import AUDIT

    from tests.stores.test_health_contract import create_table

    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    admin = request.getfixturevalue("dynamodb_local_client")
    name = f"audit-{MODULE_TAG}-{uuid.uuid4().hex[:8]}"
    create_table(admin, AUDIT, name)
    clients = []

    def dynamo_store():
        client = make_client(endpoint_url=endpoint, region_name="us-east-1", session=_dynamo_session())
        clients.append(client)
        return DynamoAuditStore(client, name, key=KEY)

    def key(partition: str, seq: int) -> dict:
        return {"partition": {"S": partition}, "seq": {"N": str(seq)}}

    def tamper(partition: str, seq: int, field: str, value: Any) -> None:
        attr = {"timestamp": "ts"}.get(field, field)
        encoded = {"N": str(value)} if isinstance(value, (int, float)) else {"S": str(value)}
        admin.update_item(
            TableName=name,
            Key=key(partition, seq),
            UpdateExpression="SET #a = :v",
            ExpressionAttributeNames={"#a": attr},
            ExpressionAttributeValues={":v": encoded},
        )

    def remove(partition: str, seq: int) -> None:
        admin.delete_item(TableName=name, Key=key(partition, seq))

    yield Backend("dynamodb", dynamo_store, tamper, remove)
    for client in clients:
        client.close()
    admin.delete_table(TableName=name)


@pytest.fixture
def store(backend):
    return backend.new_store()


def problems_of(store) -> list[tuple[str, int, str]]:
    return [(p.partition, p.seq, p.kind) for p in verify_store(store).problems]


# -- append and read back --------------------------------------------------------


def test_append_assigns_seq_and_links_and_round_trips(store):
    first = store.append(draft(0, payload="kms:AQICAHh...base64..."))
    second = store.append(draft(1, purpose=None, decisions={}))
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert first.hash == chain.compute_hash(first, KEY) and first.hash.startswith("hmac-sha256:")
    assert store.partition_records("support") == [first, second]
    got = store.partition_records("support")[0]
    assert got.payload == "kms:AQICAHh...base64..." and got.decisions["guardrails"] == {"toxicity": 0.01}
    assert type(got.timestamp) is float and type(got.seq) is int and got.cost_usd == "0.000130"
    assert store.partition_records("support")[1].purpose is None
    assert store.head("support") == second
    assert store.head("nobody") is None
    assert store.partition_records("nobody") == []


def test_append_only_api(store):
    for name in ("update", "delete", "remove", "put", "replace", "truncate"):
        assert not hasattr(store, name)


def test_invalid_draft_writes_nothing(store):
    with pytest.raises(ValueError):
        store.append(draft(0, app=""))
    with pytest.raises(ValueError):
        store.append(draft(0, cost_usd="free"))
    assert store.partitions() == []


def test_many_appends_keep_every_chain_intact(store):
    partitions = ["support#2023-11-14", "billing#2023-11-14", "support#2023-11-15"]
    for i in range(60):
        store.append(draft(i, partitions[i % 3]))
    assert store.partitions() == sorted(partitions)
    for partition in partitions:
        records = store.partition_records(partition)
        assert [r.seq for r in records] == list(range(1, 21))
        assert chain.verify_chain(records, keyring=KEY) == []
    report = verify_store(store)
    assert report.ok and report.records_checked == 60 and report.partitions_checked == 3
    assert "chain intact" in report.summary()


def test_concurrent_appends_from_several_instances(backend):
    writers, per_writer = 6, 15
    stores = [backend.new_store() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []
    appended: list[AuditRecord] = []

    def work(w: int, s) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                appended.append(s.append(draft(w * 100 + i, "hot")))
                if i % 5 == 0:
                    appended.append(s.append(draft(w * 100 + i, f"side-{w % 2}")))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(w, s)) for w, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert errors == []
    records = stores[0].partition_records("hot")
    assert [r.seq for r in records] == list(range(1, writers * per_writer + 1))  # no duplicate, no gap
    assert sorted(r.record_id for r in records) == sorted(r.record_id for r in appended if r.partition == "hot")
    # What append() returned is exactly what was stored.
    assert {r.hash for r in appended if r.partition == "hot"} == {r.hash for r in records}
    report = verify_store(stores[0])
    assert report.ok, report.summary()
    assert report.records_checked == writers * per_writer + writers * 3
    conflicts = sum(getattr(s, "conflicts", 0) for s in stores)
    print(f"\n{backend.kind}: {len(appended)} concurrent appends in {elapsed:.2f}s, {conflicts} seq races lost")


# -- tampering ---------------------------------------------------------------------


def test_sqlite_refuses_update_and_delete_through_sql(tmp_path):
    db = SqliteDatabase(tmp_path / "m.db")
    store = SqliteAuditStore(db)
    store.append(draft(0))
    conn = db.connection()
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET model = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    assert store.partition_records("support")[0].model == "gpt-4o-mini"
    db.close()


@pytest.mark.parametrize(
    "field, value",
    [
        ("model", "gpt-4o"),
        ("cost_usd", "0.000001"),
        ("prompt_tokens", 1),
        ("timestamp", T0 + 3600.5),
        ("decisions", '{"pii":{}}'),
        ("principal", "arn:aws:iam::123456789012:role/someone-else"),
    ],
)
def test_verify_catches_a_changed_record(backend, field, value):
    store = backend.new_store()
    for i in range(5):
        store.append(draft(i))
        store.append(draft(i, "billing"))
    assert problems_of(store) == []
    backend.tamper("support", 3, field, value)
    assert problems_of(store) == [("support", 3, chain.CHANGED)]


def test_verify_catches_a_changed_record_with_recomputed_hash(backend):
    """Rewrite record 2 and re-seal it and every later record with plain sha256 (all an
    attacker without the key can do): the chain is broken at sequence 2."""
    store = backend.new_store()
    for i in range(4):
        store.append(draft(i))
    records = store.partition_records("support")
    prev_hash = records[0].hash
    for original in records[1:]:
        forged = dataclasses.replace(original, status=500 if original.seq == 2 else original.status, prev_hash=prev_hash)
        forged = dataclasses.replace(forged, hash=chain.compute_hash(forged))
        backend.tamper("support", forged.seq, "status", forged.status)
        backend.tamper("support", forged.seq, "prev_hash", forged.prev_hash)
        backend.tamper("support", forged.seq, "hash", forged.hash)
        prev_hash = forged.hash
    assert problems_of(store) == [("support", s, chain.DOWNGRADE) for s in (2, 3, 4)]
    report = verify_store(store)
    assert report.status == "broken" and report.statuses[0].broken_at == 2
    assert "support: broken at sequence 2" in report.summary()


def test_verify_catches_a_key_holder_reseal_with_anchors(backend):
    """Someone holding the key and write access rewrites record 2 and re-seals 2..4 with valid
    HMACs: only the anchor kept outside the store (at seq 3 here) gives it away."""
    store = backend.new_store()
    for i in range(4):
        store.append(draft(i))
    anchors = {"support": [(3, store.partition_records("support")[2].hash)]}
    records = store.partition_records("support")
    prev_hash = records[0].hash
    for original in records[1:]:
        forged = chain.seal(dataclasses.replace(original, model="cheaper" if original.seq == 2 else original.model),
                            original.seq, prev_hash, KEY)
        for name in ("model", "prev_hash", "hash"):
            backend.tamper("support", forged.seq, name, getattr(forged, name))
        prev_hash = forged.hash
    assert problems_of(store) == []  # the key alone cannot tell
    report = verify_store(store, anchors=anchors)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, chain.CHANGED)]
    assert report.status == "broken"


def test_verify_catches_a_deleted_record(backend):
    store = backend.new_store()
    for i in range(6):
        store.append(draft(i))
    store.append(draft(0, "billing"))
    backend.remove("support", 4)
    assert problems_of(store) == [("support", 4, chain.MISSING)]
    backend.remove("support", 1)
    assert problems_of(store) == [("support", 1, chain.MISSING), ("support", 4, chain.MISSING)]


def test_verify_catches_a_deleted_last_record_with_anchors(backend):
    store = backend.new_store()
    for i in range(3):
        store.append(draft(i))
    head = store.head("support")
    anchors = {"support": (head.seq, head.hash), "gone": (2, "a" * 64)}
    assert [p.partition for p in verify_store(store, anchors=anchors).problems] == ["gone"]
    backend.remove("support", 3)
    report = verify_store(store, anchors=anchors)
    assert [(p.partition, p.seq, p.kind) for p in report.problems] == [
        ("support", 3, chain.TRUNCATED),
        ("gone", 2, chain.TRUNCATED),
    ]
    assert not report.ok and "truncated" in report.summary()


def test_appends_after_a_deletion_still_chain_on_the_stored_head(backend):
    store = backend.new_store()
    for i in range(3):
        store.append(draft(i))
    backend.remove("support", 2)
    nxt = store.append(draft(9))
    assert nxt.seq == 4 and nxt.prev_hash == store.partition_records("support")[1].hash
    assert problems_of(store) == [("support", 2, chain.MISSING)]


# -- queries -------------------------------------------------------------------------


def test_query_filters(store):
    rows = [
        draft(0, "support", model="gpt-4o-mini"),
        draft(1, "billing", model="claude-3-5-sonnet", provider="anthropic"),
        draft(2, "support", model="claude-3-5-sonnet", provider="anthropic"),
        draft(3, "support", model="gpt-4o-mini"),
        draft(4, "billing", model="gpt-4o-mini"),
        draft(5, "support", model="gpt-4o-mini"),
    ]
    for row in rows:
        store.append(row)

    def ids(records):
        return [r.record_id.split("-")[-1] for r in records]

    assert ids(store.query()) == ["0005", "0004", "0003", "0002", "0001", "0000"]
    assert ids(store.query(limit=2)) == ["0005", "0004"]
    assert store.query(limit=0) == []
    assert ids(store.query(app="support")) == ["0005", "0003", "0002", "0000"]
    assert ids(store.query(app="support", limit=3)) == ["0005", "0003", "0002"]
    assert ids(store.query(model="claude-3-5-sonnet")) == ["0002", "0001"]
    assert ids(store.query(app="support", model="gpt-4o-mini")) == ["0005", "0003", "0000"]
    assert ids(store.query(app="support", model="gpt-4o-mini", limit=1)) == ["0005"]
    # since inclusive, until exclusive
    assert ids(store.query(since=T0 + 2, until=T0 + 5)) == ["0004", "0003", "0002"]
    assert ids(store.query(app="support", since=T0 + 2, until=T0 + 5)) == ["0003", "0002"]
    assert ids(store.query(app="support", since=T0 + 3)) == ["0005", "0003"]
    assert ids(store.query(app="support", until=T0 + 3)) == ["0002", "0000"]
    assert ids(store.query(app="billing", since=T0 + 1, until=T0 + 4, model="gpt-4o-mini")) == []
    assert store.query(app="nobody") == []
    full = store.query(app="billing")[0]
    assert full == store.partition_records("billing")[1]


def test_bundles_expose_audit(tmp_path):
    from llm_mesh.stores.sqlite import open_sqlite_stores

    with open_sqlite_stores(tmp_path / "m.db") as bundle:
        bundle.audit.append(draft(0))
        assert verify_store(bundle.audit).ok


def test_dynamodb_bundle_exposes_audit_and_health(dynamodb_local_endpoint, dynamodb_local_client):
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores
    from llm_mesh.stores.dynamodb.tables import TABLES

    names = {spec.logical: f"bundle-{MODULE_TAG}-{spec.logical}" for spec in TABLES}
    create_tables(dynamodb_local_client, names)
    with open_dynamodb_stores(names, endpoint_url=dynamodb_local_endpoint, session=_dynamo_session()) as bundle:
        record = bundle.audit.append(draft(0))
        assert bundle.audit.partition_records("support") == [record]
        assert bundle.health.get_health(["x"]) == {}
    item = dynamodb_local_client.get_item(
        TableName=names["audit"], Key={"partition": {"S": "support"}, "seq": {"N": "1"}}
    )["Item"]
    assert item["ts"] == {"N": "1700000000"} and item["hash"] == {"S": record.hash}
    assert "payload" not in item  # None is left out
    # Without names for the optional tables the bundle still opens (no health/audit store).
    partial = {"keys": names["keys"], "requests": names["requests"]}
    with open_dynamodb_stores(partial, endpoint_url=dynamodb_local_endpoint, session=_dynamo_session()) as bundle:
        assert bundle.health is None and bundle.audit is None and bundle.ping()
    for name in names.values():
        dynamodb_local_client.delete_table(TableName=name)


def test_dynamodb_appends_without_old_item_on_conflict(dynamodb_local_endpoint, dynamodb_local_client):
    from llm_mesh.stores.dynamodb.audit import DynamoAuditStore
    from llm_mesh.stores.dynamodb.client import make_client
    from llm_mesh.stores.dynamodb.tables import AUDIT

    from tests.stores.test_health_contract import StripOldItem, create_table

    name = f"audit-{MODULE_TAG}-strip"
    create_table(dynamodb_local_client, AUDIT, name)
    clients = [
        make_client(endpoint_url=dynamodb_local_endpoint, region_name="us-east-1", session=_dynamo_session())
        for _ in range(4)
    ]
    stores = [DynamoAuditStore(StripOldItem(c), name) for c in clients]
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for i in range(10):
                stores[w].append(draft(w * 100 + i, "hot"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r.seq for r in stores[0].partition_records("hot")] == list(range(1, 41))
    assert verify_store(stores[0]).ok
    for c in clients:
        c.close()
    dynamodb_local_client.delete_table(TableName=name)
