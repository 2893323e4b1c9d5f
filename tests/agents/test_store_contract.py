"""One contract for the agent runs stores: in-memory reference, SQLite, DynamoDB (moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from llm_mesh.agents.store import MemoryAgentRunStore, step_key


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryAgentRunStore()
    elif request.param == "sqlite":
        from llm_mesh.stores.sqlite.agents import SqliteAgentRunStore
        from llm_mesh.stores.sqlite.connection import SqliteDatabase

        db = SqliteDatabase(tmp_path / "m.db")
        yield SqliteAgentRunStore(db)
        db.close()
    else:
        boto3 = pytest.importorskip("boto3")
        from moto import mock_aws

        from llm_mesh.stores.dynamodb import create_tables
        from llm_mesh.stores.dynamodb.agents import DynamoAgentRunStore

        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_tables(client, {"keys": "k", "requests": "r", "agent_runs": "runs"})
            yield DynamoAgentRunStore(client, "runs")


def _run(run_id: str, app: str, created: float, agent: str = "a") -> dict[str, Any]:
    return {"run_id": run_id, "agent": agent, "app": app, "principal": "p", "status": "running", "created_at": created,
            "cost_usd": "0", "error": None}


def test_runs_and_steps(store: Any) -> None:
    store.create_run(_run("r1", "app1", 1.0))
    store.create_run({**_run("r1", "app1", 1.0), "status": "ignored"})  # idempotent
    assert store.get_run("r1")["status"] == "running"
    store.update_run("r1", {"status": "succeeded", "cost_usd": "0.0012", "error": {"Error": "x"}})
    run = store.get_run("r1")
    assert run["status"] == "succeeded" and run["cost_usd"] == "0.0012" and run["error"] == {"Error": "x"}
    assert store.get_run("nope") is None
    store.update_run("nope", {"status": "x"})  # no-op
    store.put_step("r1", step_key(1, 1), {"kind": "tool", "n": 1})
    store.put_step("r1", step_key(1, 0), {"kind": "model"})
    store.put_step("r1", step_key(10, 0), {"kind": "model"})
    store.put_step("r1", step_key(1, 1), {"kind": "tool", "n": 2})  # a retried task overwrites its step
    steps = store.steps("r1")
    assert [s["key"] for s in steps] == ["0001.000", "0001.001", "0010.000"]
    assert steps[1]["n"] == 2


def test_list_runs_is_per_app_newest_first(store: Any) -> None:
    store.create_run(_run("a1", "app1", 1.0))
    store.create_run(_run("a2", "app1", 2.0, agent="b"))
    store.create_run(_run("b1", "app2", 3.0))
    assert [r["run_id"] for r in store.list_runs("app1")] == ["a2", "a1"]
    assert [r["run_id"] for r in store.list_runs("app1", agent="a")] == ["a1"]
    assert [r["run_id"] for r in store.list_runs("app2")] == ["b1"]
    assert store.list_runs("app3") == []
