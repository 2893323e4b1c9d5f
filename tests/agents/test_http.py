"""The agent runs API on a real server: sync and async runs, steps, tokens; apps see only their runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.agents.conftest import agent_config
from tests.harness import serve_mesh

QUESTION = "SELECT customer FROM orders WHERE total > 8"


def test_runs_api(fake: Any, orders_db: Path) -> None:
    with serve_mesh(agent_config(fake.base_url, orders_db), env={"FAKE_UPSTREAM_KEY": "k"}) as mesh:
        auth = {"authorization": f"Bearer {mesh.api_key}"}
        with httpx.Client(base_url=mesh.root_url, timeout=30) as client:
            sync = client.post("/v1/mesh/agents/analyst/runs?wait=true", json={"input": QUESTION}, headers=auth)
            assert sync.status_code == 200, sync.text
            run = sync.json()
            assert run["object"] == "agent.run" and run["status"] == "succeeded"
            assert run["answer"] == "Echo: " + QUESTION
            assert [s["kind"] for s in run["steps_detail"]] == ["model", "tool", "model"]
            assert run["usage"]["total_tokens"] > 0 and "cost_usd" in run

            started = client.post("/v1/mesh/agents/analyst/runs", json={"input": QUESTION}, headers=auth)
            assert started.status_code == 202, started.text
            run_id = started.json()["id"]
            deadline = time.monotonic() + 10
            while True:
                got = client.get(f"/v1/mesh/agents/analyst/runs/{run_id}", headers=auth).json()
                if got["status"] != "running" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert got["status"] == "succeeded" and got["answer"] == run["answer"]
            assert len(got["steps_detail"]) == 3

            # Another app cannot see the run, nor list it.
            other = {"authorization": f"Bearer {mesh.key_for('other')}"}
            assert client.get(f"/v1/mesh/agents/analyst/runs/{run_id}", headers=other).status_code == 404
            listed = client.get("/v1/mesh/agents/analyst/runs", headers=other).json()
            assert listed["data"] == []
            assert len(client.get("/v1/mesh/agents/analyst/runs", headers=auth).json()["data"]) == 2
            assert client.post("/v1/mesh/agents/nope/runs", json={"input": "x"}, headers=auth).status_code == 404
            bad = client.post("/v1/mesh/agents/analyst/runs", json={"input": ""}, headers=auth)
            assert bad.status_code == 400


def test_cli_runs_an_agent(fake: Any, orders_db: Path, tmp_path: Path, monkeypatch: Any) -> None:
    import yaml
    from click.testing import CliRunner

    from llm_mesh.cli.main import cli

    config = tmp_path / "mesh.yaml"
    config.write_text(yaml.safe_dump(agent_config(fake.base_url, orders_db)))
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", "k")
    result = CliRunner().invoke(cli, ["agents", "run", "analyst", "--input", QUESTION, "--config", str(config),
                                      "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "tool orders: ok" in result.output and "Echo: " + QUESTION in result.output


def test_a_sync_run_past_the_wait_answers_202_with_a_poll_url(fake: Any, orders_db: Path) -> None:
    """API Gateway ends requests at 29 s: a sync run still going after ``sync_wait_seconds`` answers
    202 with the run and where to poll, and carries on to the end."""
    from tests.fakes.openai_upstream import Behaviour

    config = agent_config(fake.base_url, orders_db)
    config["agents"]["sync_wait_seconds"] = 0.2
    fake.queue(Behaviour(latency_ms=2_000))  # the first model call outlasts the wait
    with serve_mesh(config, env={"FAKE_UPSTREAM_KEY": "k"}) as mesh:
        auth = {"authorization": f"Bearer {mesh.api_key}"}
        with httpx.Client(base_url=mesh.root_url, timeout=30) as client:
            started = client.post("/v1/mesh/agents/analyst/runs", json={"input": QUESTION, "mode": "sync"}, headers=auth)
            assert started.status_code == 202, started.text
            body = started.json()
            assert body["status"] == "running" and body["poll_url"] == f"/v1/mesh/agents/analyst/runs/{body['id']}"
            assert started.headers["location"] == body["poll_url"]
            deadline = time.monotonic() + 20
            while True:
                got = client.get(body["poll_url"], headers=auth).json()
                if got["status"] != "running" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert got["status"] == "succeeded" and got["answer"] == "Echo: " + QUESTION
            assert [s["kind"] for s in got["steps_detail"]] == ["model", "tool", "model"]


def test_wait_for_run_reads_a_step_functions_run_until_it_ends() -> None:
    import asyncio

    from llm_mesh.agents.store import MemoryAgentRunStore
    from llm_mesh.agents.sync_wait import wait_for_run

    store = MemoryAgentRunStore()
    store.create_run({"run_id": "r1", "status": "running"})
    assert asyncio.run(wait_for_run(store, "r1", 0)) is None  # still running at the deadline
    store.update_run("r1", {"status": "succeeded", "answer": "42"})
    done = asyncio.run(wait_for_run(store, "r1", 0))
    assert done is not None and done["answer"] == "42" and done["steps_detail"] == []
