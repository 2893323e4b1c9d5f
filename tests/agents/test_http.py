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
