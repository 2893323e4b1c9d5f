"""An execution that ends badly where no Catch can see it (256 KiB state limit, timeout,
abort) marks its still-running run failed, through the task function's dispatch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from llm_mesh.agents import lambda_tasks
from llm_mesh.agents.store import MemoryAgentRunStore


@pytest.fixture
def store():
    store = MemoryAgentRunStore()
    lambda_tasks.set_env_factory(lambda: SimpleNamespace(store=store))
    yield store
    lambda_tasks.set_env_factory(None)


def _event(run_id: str, status: str, error: str | None = None) -> dict:
    return {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
            "detail": {"name": run_id, "status": status, "error": error, "cause": "state quoted: SECRET PROMPT"}}


def test_data_limit_failure_marks_the_run_failed(store: MemoryAgentRunStore) -> None:
    store.create_run({"run_id": "run_1", "status": "running"})
    result = lambda_tasks.dispatch(_event("run_1", "FAILED", "States.DataLimitExceeded"))
    run = store.get_run("run_1")
    assert result["updated"] and run["status"] == "failed" and run["ended_at"]
    assert run["error"]["code"] == "execution_failed" and "States.DataLimitExceeded" in run["error"]["message"]
    assert "SECRET PROMPT" not in str(run)  # the cause can quote state data; it is not copied


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED"])
def test_timeouts_and_aborts_fail_the_run(store: MemoryAgentRunStore, status: str) -> None:
    store.create_run({"run_id": "run_2", "status": "running"})
    lambda_tasks.dispatch(_event("run_2", status))
    assert store.get_run("run_2")["stop_reason"] == f"execution_{status.lower()}"


def test_a_finished_run_is_left_alone(store: MemoryAgentRunStore) -> None:
    store.create_run({"run_id": "run_3", "status": "succeeded", "answer": "42"})
    assert not lambda_tasks.dispatch(_event("run_3", "FAILED", "States.Runtime"))["updated"]
    assert store.get_run("run_3") == {"run_id": "run_3", "status": "succeeded", "answer": "42"}
