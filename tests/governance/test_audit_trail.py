"""The audit hook and ``mesh audit verify|query`` on SQLite and DynamoDB Local:
records written per request, a tampered and a deleted record caught, payloads
encrypted, GET /v1/mesh/audit for admins only."""

from __future__ import annotations

import json
import sqlite3
import uuid

import httpx
import openai
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from llm_mesh.audit.hook import AuditHook, BackgroundAuditWriter, FernetPayloadCipher, InlineAuditWriter, config_version
from llm_mesh.cli.main import cli
from llm_mesh.config import parse_config
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import Outcome
from llm_mesh.identity import Caller
from llm_mesh.policy.governance import AuditConfig
from llm_mesh.wire.openai_chat import Usage
from tests.harness import serve_mesh

EMAIL = "jane.doe@example.com"
FERNET_KEY = Fernet.generate_key().decode()

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "apps": {"reader": {"routes": ["echo"]}},
    "policies": {"p": {"default_action": "redact"}},
    "governance": {
        "bindings": {"default": "p"},
        "audit": {"enabled": True, "payloads": True, "payload_key": {"env": "MESH_TEST_AUDIT_KEY"}},
    },
}


@pytest.fixture(scope="module")
def mesh():
    import os

    os.environ["MESH_TEST_AUDIT_KEY"] = FERNET_KEY
    with serve_mesh(CONFIG) as running:
        yield running


def _audit_hook(mesh) -> AuditHook:
    return next(h for h in mesh.runtime.service.hooks if h.name == "audit")


def _tamperable(path) -> sqlite3.Connection:
    """What someone holding the file can do: the append-only triggers do not stop them."""
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return db


def _run(args: list[str], env: dict | None = None):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_requests_leave_encrypted_payloads_and_verify_on_sqlite(mesh):
    client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
    for i in range(4):
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": f"hi {i} {EMAIL}"}])
    stream = client.chat.completions.create(model="echo", stream=True, messages=[{"role": "user", "content": "streamed"}])
    list(stream)
    _audit_hook(mesh).flush()
    store = mesh.runtime.stores.audit
    records = store.query(app="test", limit=100)
    assert len(records) >= 5
    newest = records[0]
    assert newest.endpoint == "chat.completions" and newest.route == "echo" and newest.provider == "echo"
    assert newest.config_version == config_version(mesh.runtime.config)
    assert all(r.payload and r.payload.startswith("fernet1:") for r in records)
    assert EMAIL not in json.dumps([r.__dict__ for r in records])
    plain = json.loads(FernetPayloadCipher(FERNET_KEY).decrypt(records[-1].payload))
    assert "[EMAIL_1]" in json.dumps(plain["request"]) and EMAIL not in json.dumps(plain)  # what left the mesh

    data = str(mesh.data_dir)
    ok = _run(["audit", "verify", "--data-dir", data])
    assert ok.exit_code == 0 and "chain intact" in ok.output
    query = _run(["audit", "query", "--data-dir", data, "--app", "test", "--since", "1h", "--model", "echo-1", "--json"])
    lines = [json.loads(x) for x in query.output.splitlines()]
    assert lines and all(x["model"] == "echo-1" and x["payload"] is True for x in lines)
    assert _run(["audit", "query", "--data-dir", data, "--until", "2000-01-01"]).output.strip().endswith("(none)")

    # tamper with one record and delete another behind the store's back
    partition = records[0].partition
    db = _tamperable(mesh.data_dir / "mesh.db")
    db.execute("UPDATE audit_log SET model = 'gpt-4o' WHERE partition = ? AND seq = 2", (partition,))
    db.execute("DELETE FROM audit_log WHERE partition = ? AND seq = 3", (partition,))
    db.commit()
    db.close()
    bad = _run(["audit", "verify", "--data-dir", data])
    assert bad.exit_code == 1
    assert "seq 2: changed" in bad.output and "seq 3: missing" in bad.output


def test_audit_endpoint_admin_only(mesh):
    admin = httpx.get(f"{mesh.base_url}/mesh/audit", params={"app": "test", "limit": 2},
                      headers={"Authorization": f"Bearer {mesh.api_key}"})
    assert admin.status_code == 200
    data = admin.json()["data"]
    assert len(data) <= 2 and all(isinstance(r["payload"], bool) for r in data)
    other = httpx.get(f"{mesh.base_url}/mesh/audit", headers={"Authorization": f"Bearer {mesh.key_for('reader')}"})
    assert other.status_code == 403


def _hook_for(store, cfg: AuditConfig | None = None) -> AuditHook:
    config = parse_config(CONFIG, "<t>")
    return AuditHook(config=config, cfg=cfg or AuditConfig(), writer=InlineAuditWriter(store), version=config_version(config))


def _complete(hook: AuditHook, app: str, model: str = "m1", purpose: str | None = "billing") -> None:
    ctx = RequestContext(endpoint="chat.completions")
    ctx.caller = Caller(app=app, principal=f"arn:aws:iam::123456789012:role/{app}")
    ctx.route, ctx.provider, ctx.model = "r", "p", model
    if purpose:
        ctx.tags["purpose"] = purpose
    ctx.decisions["policy"] = {"policy": "p", "counts": {"redact": {"EMAIL": 1}}, "alerts": {}, "blocked": False, "detector_errors": []}
    ctx.decisions["cost_usd"] = "0.0012"
    hook.on_complete(ctx, Outcome(status=200, usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)))


def test_verify_catches_tamper_and_delete_on_dynamodb_local(dynamodb_local_endpoint, dynamodb_local_client, monkeypatch):
    from llm_mesh.stores.dynamodb import create_tables, open_dynamodb_stores
    from llm_mesh.stores.dynamodb.tables import TABLES

    tag = uuid.uuid4().hex[:8]
    names = {spec.logical: f"gov-{tag}-{spec.logical}" for spec in TABLES}
    create_tables(dynamodb_local_client, names)
    for spec in TABLES:
        monkeypatch.setenv(spec.env_var, names[spec.logical])
    for k, v in {"AWS_ACCESS_KEY_ID": "dummy", "AWS_SECRET_ACCESS_KEY": "dummy", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MESH_AUDIT_KEY", "5a" * 32)  # on AWS: MESH_AUDIT_KEY_SECRET names the generated secret
    stores = open_dynamodb_stores(endpoint_url=dynamodb_local_endpoint)
    hook = _hook_for(stores.audit)
    for i in range(5):
        _complete(hook, "support", model="m1" if i % 2 else "m2")
    records = stores.audit.query(app="support", limit=10)
    assert [r.seq for r in records] == [5, 4, 3, 2, 1]
    r = records[0]
    assert (r.purpose, r.cost_usd, r.prompt_tokens, r.principal) == ("billing", "0.0012", 3, "arn:aws:iam::123456789012:role/support")
    args = ["audit", "verify", "--dynamodb", "--endpoint-url", dynamodb_local_endpoint]
    ok = _run(args)
    assert ok.exit_code == 0 and "chain intact" in ok.output
    assert records[0].hash.startswith("hmac-sha256:")
    q = _run(["audit", "query", "--dynamodb", "--endpoint-url", dynamodb_local_endpoint, "--model", "m1", "--json"])
    assert len(q.output.splitlines()) == 2

    key = lambda seq: {"partition": {"S": r.partition}, "seq": {"N": str(seq)}}  # noqa: E731
    dynamodb_local_client.update_item(
        TableName=names["audit"], Key=key(2), UpdateExpression="SET #m = :v",
        ExpressionAttributeNames={"#m": "cost_usd"}, ExpressionAttributeValues={":v": {"S": "0"}},
    )
    dynamodb_local_client.delete_item(TableName=names["audit"], Key=key(4))
    bad = _run(args)
    assert bad.exit_code == 1
    assert "seq 2: changed" in bad.output and "seq 4: missing" in bad.output
    stores.close()


def test_anchors_catch_removal_of_the_latest_record(tmp_path):
    from llm_mesh.stores.sqlite import open_sqlite_stores

    stores = open_sqlite_stores(tmp_path / "mesh.db")
    hook = _hook_for(stores.audit, AuditConfig(partition="app"))
    for _ in range(3):
        _complete(hook, "support")
    anchors = tmp_path / "anchors.json"
    args = ["audit", "verify", "--data-dir", str(tmp_path), "--anchors", str(anchors)]
    assert _run(args + ["--save-anchors"]).exit_code == 0
    assert json.loads(anchors.read_text())["support"][0] == 3
    db = _tamperable(tmp_path / "mesh.db")
    db.execute("DELETE FROM audit_log WHERE partition = 'support' AND seq = 3")
    db.commit()
    db.close()
    bad = _run(args)
    assert bad.exit_code == 1 and "truncated" in bad.output
    stores.close()


def test_background_writer_keeps_order(tmp_path):
    from llm_mesh.audit.verify import verify_store
    from llm_mesh.stores.sqlite import open_sqlite_stores

    stores = open_sqlite_stores(tmp_path / "mesh.db")
    config = parse_config(CONFIG, "<t>")
    hook = AuditHook(config=config, cfg=AuditConfig(partition="app"), writer=BackgroundAuditWriter(stores.audit))
    n = 300
    for _ in range(n):
        _complete(hook, "support")
    hook.flush()
    hook.writer.close()
    assert len(stores.audit.partition_records("support")) == n
    assert verify_store(stores.audit).ok
    stores.close()
