"""An audit trail that loses nothing and cannot be re-sealed: concurrent writers on DynamoDB
Local and on one SQLite file from several processes, failed appends kept and retried (and
spilled at close), anchors in an append-only place, and ``mesh audit verify`` saying intact,
broken at sequence N, or unkeyed."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sqlite3
import threading
import uuid

import pytest
from click.testing import CliRunner

from llm_mesh.audit import chain
from llm_mesh.audit.anchors import ANCHOR_FILE_NAME, Anchorer, FileAnchorSink, S3AnchorSink
from llm_mesh.audit.keys import KEY_FILE_NAME, ChainKey, key_from_environment, load_or_create_key_file, parse_key
from llm_mesh.audit.verify import verify_store
from llm_mesh.audit.writers import BackgroundAuditWriter, InlineAuditWriter, emf_failure_metric
from llm_mesh.cli.main import cli
from llm_mesh.stores.interfaces import AuditDraft
from llm_mesh.stores.sqlite.audit import SqliteAuditStore
from llm_mesh.stores.sqlite.connection import SqliteDatabase

KEY = ChainKey(b"lossless-test-chain-key-32-bytes")
PARTITION = "support#2026-12-04"


def draft(writer: int, i: int, partition: str = PARTITION) -> AuditDraft:
    return AuditDraft(
        partition=partition, record_id=f"req-{writer:03d}-{i:03d}", timestamp=1_764_806_400.0 + i,
        app=partition.split("#")[0], principal="arn:aws:iam::123456789012:role/app", purpose=None,
        route="chat", provider="openai", model="gpt-4o-mini", endpoint="chat.completions", status=200,
        decisions={"policy": {"blocked": False}}, prompt_tokens=10, completion_tokens=2, cost_usd="0.0001",
        latency_ms=12.5, config_version="cfg", payload=None,
    )


def _run(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


# ------------------------------------------------------------------------- concurrency


def test_64_concurrent_writers_on_dynamodb_local_lose_nothing(dynamodb_local_endpoint, dynamodb_local_client):
    """64 writers (each its own client and store, like 64 Lambda instances) x 5 appends to one
    app-day chain: all 320 stored, seq 1..320 without a gap, keyed chain intact, no failure."""
    from llm_mesh.stores.dynamodb.audit import DynamoAuditStore
    from llm_mesh.stores.dynamodb.tables import AUDIT
    import boto3
    from botocore.config import Config

    from tests.fixtures.dynamodb_local import DUMMY_CREDENTIALS
    from tests.stores.test_health_contract import create_table

    name = f"audit-lossless-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_local_client, AUDIT, name)
    writers, appends = 64, 5
    session = boto3.session.Session(**DUMMY_CREDENTIALS)  # one session: clients share its loaded models
    config = Config(max_pool_connections=2, retries={"mode": "standard", "max_attempts": 3})
    clients = [session.client("dynamodb", endpoint_url=dynamodb_local_endpoint, config=config) for _ in range(writers)]
    audit_writers = [InlineAuditWriter(DynamoAuditStore(c, name, key=KEY)) for c in clients]
    barrier = threading.Barrier(writers)

    def work(w: int) -> None:
        barrier.wait()
        for i in range(appends):
            audit_writers[w].write(draft(w, i))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = audit_writers[0].store
    records = reader.partition_records(PARTITION)
    assert [r.seq for r in records] == list(range(1, writers * appends + 1))
    assert sorted(r.record_id for r in records) == sorted(f"req-{w:03d}-{i:03d}" for w in range(writers) for i in range(appends))
    assert sum(w.failures for w in audit_writers) == 0 and not any(w.appender.pending for w in audit_writers)
    report = verify_store(reader)
    assert report.status == "intact", report.summary()
    assert sum(w.store.conflicts for w in audit_writers) > 0  # the writers really raced
    for c in clients:
        c.close()
    dynamodb_local_client.delete_table(TableName=name)


def _append_from_process(path: str, writer: int, appends: int) -> None:
    store = SqliteAuditStore(SqliteDatabase(path), key=KEY)
    for i in range(appends):
        store.append(draft(writer, i))


def test_sqlite_appends_from_several_processes_lose_nothing(tmp_path):
    path = str(tmp_path / "mesh.db")
    SqliteAuditStore(SqliteDatabase(path), key=KEY)  # schema first
    ctx = multiprocessing.get_context("fork")
    processes = [ctx.Process(target=_append_from_process, args=(path, w, 30)) for w in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    store = SqliteAuditStore(SqliteDatabase(path), key=KEY)
    assert [r.seq for r in store.partition_records(PARTITION)] == list(range(1, 121))
    assert verify_store(store).status == "intact"


# ------------------------------------------------------------------------- failures are kept


def _locked(path) -> sqlite3.Connection:
    """Another process holding the write lock: appends fail with 'database is locked'."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_failed_appends_are_counted_kept_and_retried_in_order(tmp_path, capsys):
    store = SqliteAuditStore(SqliteDatabase(tmp_path / "mesh.db", busy_timeout_s=0.01), key=KEY)
    writer = InlineAuditWriter(store, on_failure=emf_failure_metric)
    writer.write(draft(0, 0))
    holder = _locked(tmp_path / "mesh.db")
    writer.write(draft(0, 1))
    writer.write(draft(0, 2))
    assert writer.stats.failed == 2 and [d.record_id for d in writer.appender.pending] == ["req-000-001", "req-000-002"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [m["AuditAppendFailures"] for m in metrics] == [1, 1]  # the EMF metric the alarm watches
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LLMMesh"
    holder.execute("ROLLBACK")
    holder.close()
    writer.write(draft(0, 3))
    assert [r.record_id for r in store.partition_records(PARTITION)] == [f"req-000-00{i}" for i in range(4)]
    assert not writer.appender.pending and writer.stats.appended == 4


def test_appends_still_failing_at_close_are_spilled_and_recovered(tmp_path):
    db_path = tmp_path / "mesh.db"
    store = SqliteAuditStore(SqliteDatabase(db_path, busy_timeout_s=0.01), key=KEY)
    holder = _locked(db_path)
    writer = BackgroundAuditWriter(store, spill_dir=tmp_path)
    for i in range(3):
        writer.write(draft(0, i))
    writer.close()
    assert writer.stats.spilled == 3 and len(list(tmp_path.glob("audit-spill-*.jsonl"))) == 1
    holder.execute("ROLLBACK")
    holder.close()
    again = InlineAuditWriter(SqliteAuditStore(SqliteDatabase(db_path), key=KEY), spill_dir=tmp_path)
    assert again.stats.recovered == 3 and not list(tmp_path.glob("audit-spill-*"))
    again.flush()
    assert [r.seq for r in again.store.partition_records(PARTITION)] == [1, 2, 3]


# ------------------------------------------------------------------------- keys


def test_chain_key_from_file_env_and_secrets_manager(tmp_path, monkeypatch):
    first = load_or_create_key_file(tmp_path)
    assert load_or_create_key_file(tmp_path) == first
    assert oct(os.stat(tmp_path / KEY_FILE_NAME).st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError, match="at least 32 bytes") as short:
        parse_key("abcd")
    assert "abcd" not in str(short.value)
    assert key_from_environment({"MESH_AUDIT_KEY": "ab" * 32}) == ChainKey(bytes.fromhex("ab" * 32))
    assert key_from_environment({}) is None

    import boto3
    from moto import mock_aws

    for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="mesh-audit-chain-key", SecretString="cd" * 32)["ARN"]
        key = key_from_environment({"MESH_AUDIT_KEY_SECRET": arn}, secrets_client=client)
    assert key == ChainKey(bytes.fromhex("cd" * 32))


# ------------------------------------------------------------------------- anchors and the CLI


def _local_mesh(tmp_path, n: int = 4) -> SqliteAuditStore:
    """Appends through the local writer: key file and anchor file in the data directory."""
    store = SqliteAuditStore(SqliteDatabase(tmp_path / "mesh.db"))
    writer = BackgroundAuditWriter(store, Anchorer(FileAnchorSink(tmp_path / ANCHOR_FILE_NAME)), spill_dir=tmp_path)
    for i in range(n):
        writer.write(draft(0, i))
    writer.close()
    return store


def _reseal_from(store: SqliteAuditStore, seq: int, key: ChainKey | None, **change) -> None:
    """A writer-role attacker: rewrite record ``seq`` and re-seal it and everything after it."""
    conn = sqlite3.connect(store.data_dir / "mesh.db")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    records = store.partition_records(PARTITION)
    prev_hash = records[seq - 2].hash if seq > 1 else chain.GENESIS_HASH
    for original in records[seq - 1:]:
        changed = dataclasses.replace(original, **change) if original.seq == seq else original
        forged = chain.seal(changed, original.seq, prev_hash, key)
        conn.execute("UPDATE audit_log SET model = ?, prev_hash = ?, hash = ? WHERE partition = ? AND seq = ?",
                     (forged.model, forged.prev_hash, forged.hash, PARTITION, forged.seq))
        prev_hash = forged.hash
    conn.commit()
    conn.close()


def test_verify_cli_reports_intact_then_broken_after_a_key_holder_reseal(tmp_path):
    store = _local_mesh(tmp_path)
    ok = _run(["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0 and "chain intact" in ok.output
    _reseal_from(store, 2, store.key, model="gpt-3.5")  # valid HMACs: the writers hold the key
    bad = _run(["audit", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{PARTITION}: broken at sequence 4" in bad.output  # the anchored head no longer matches
    assert "kept anchor" in bad.output


def test_verify_cli_reports_a_plain_sha256_reseal_broken_at_its_sequence(tmp_path):
    store = _local_mesh(tmp_path)
    _reseal_from(store, 3, None, model="gpt-3.5")
    bad = _run(["audit", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1 and f"{PARTITION}: broken at sequence 3" in bad.output and "downgrade" in bad.output


def test_verify_cli_catches_the_newest_record_deleted(tmp_path):
    store = _local_mesh(tmp_path)
    conn = sqlite3.connect(store.data_dir / "mesh.db")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = 4")
    conn.commit()
    conn.close()
    bad = _run(["audit", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1 and "truncated" in bad.output and "broken at sequence 4" in bad.output


def test_verify_cli_reports_a_legacy_chain_as_unkeyed(tmp_path):
    legacy = SqliteAuditStore(SqliteDatabase(tmp_path / "mesh.db"), key=None)
    for i in range(3):
        legacy.append(draft(0, i))
    out = _run(["audit", "verify", "--data-dir", str(tmp_path)])
    assert out.exit_code == 3 and f"{PARTITION}: unkeyed (3 record(s))" in out.output


def test_s3_anchors_in_an_object_lock_bucket(monkeypatch):
    import boto3
    from moto import mock_aws

    for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="mesh-audit-anchors", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(Bucket="mesh-audit-anchors", ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
        sink = S3AnchorSink("mesh-audit-anchors", client=s3)
        sink.put(PARTITION, 3, "hmac-sha256:k:" + "a" * 64)
        sink.put(PARTITION, 5, "hmac-sha256:k:" + "b" * 64)
        key = s3.list_objects_v2(Bucket="mesh-audit-anchors")["Contents"][0]["Key"]
        s3.put_object(Bucket="mesh-audit-anchors", Key=key, Body=b'{"partition": "x", "seq": 1, "hash": "forged"}')
        version = s3.list_object_versions(Bucket="mesh-audit-anchors", Prefix=key)["Versions"][-1]["VersionId"]
        with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
            s3.delete_object(Bucket="mesh-audit-anchors", Key=key, VersionId=version)
        kept = sink.anchors()
    assert sorted(kept[PARTITION]) == [(3, "hmac-sha256:k:" + "a" * 64), (5, "hmac-sha256:k:" + "b" * 64)]
