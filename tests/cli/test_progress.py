"""Long CLI work reports progress on stderr only: with --progress (or when stderr is a
terminal), never in the machine output on stdout, and not at all in a pipe by default."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from llm_mesh.cli.main import cli
from llm_mesh.stores.interfaces import CostRecord, RequestLogEntry
from llm_mesh.stores.sqlite import open_sqlite_stores
from tests.governance.test_audit_trail import _complete, _hook_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A data dir with audit chains in three partitions, 250 ledger records and a request log."""
    folder = tmp_path_factory.mktemp("progress")
    now = time.time()
    with open_sqlite_stores(folder / "mesh.db") as stores:
        hook = _hook_for(stores.audit)
        for app in ("support", "billing", "ops"):
            for _ in range(2):
                _complete(hook, app)
        for i in range(250):
            stores.ledger.record(CostRecord(request_id=f"r{i}", timestamp=now - i, app=f"app{i % 3}", route="chat",
                                            provider="p", model="m", cost_usd="0.001"))
        stores.request_log.append_many([
            RequestLogEntry(f"q{i}", now - 60 + i, "app", "chat", "p", "m", "chat.completions", 200, False,
                            10.0, 9.0, 1.0, prompt_tokens=10, completion_tokens=5) for i in range(30)])
    return folder


def _run(args: list[str]):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result


def test_audit_verify_counts_partitions_on_stderr(data):
    quiet = _run(["audit", "verify", "--data-dir", str(data)])
    shown = _run(["audit", "verify", "--data-dir", str(data), "--progress"])
    assert quiet.exit_code == shown.exit_code == 0, shown.output
    assert shown.stdout == quiet.stdout and "intact" in shown.stdout.lower()
    assert quiet.stderr == ""  # not a terminal, not asked
    lines = shown.stderr.splitlines()
    assert lines[0] == "audit verify: listing partitions"
    assert lines[-1].startswith("audit verify: partitions: 3/3 (100%)")
    assert "audit verify" not in shown.stdout


def test_cost_export_csv_stays_clean(data):
    args = ["costs", "--data-dir", str(data), "--group-by", "", "--csv"]
    quiet, shown = _run(args), _run([*args, "--progress"])
    assert shown.stdout == quiet.stdout and quiet.stderr == ""
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert len(rows) == 250 and rows[0]["request_id"]
    progress = shown.stderr.splitlines()
    assert progress[0] == "ledger: records: 1/250 (0%)" and "ledger: records: 250/250 (100%)" in progress
    assert progress[-1] == "ledger: 250 matching records"
    assert len(progress) <= 25  # throttled, not a line per record


def test_experiment_report_and_fleet_profile_json_stay_clean(data, tmp_path, monkeypatch):
    prompts = tmp_path / "prompts" / "greeting"
    prompts.mkdir(parents=True)
    for version in (1, 2):
        (prompts / f"v{version}.yaml").write_text(f"route: chat\nmessages:\n  - {{role: system, content: 'v{version}'}}\n")
    config = tmp_path / "mesh.yaml"
    config.write_text(yaml.safe_dump({
        "providers": {"echo": {"kind": "echo"}}, "routes": {"chat": {"provider": "echo", "model": "echo-1"}},
        "prompts": {"labels": {"greeting": {"production": 1}}},
        "experiments": {"tone": {"prompt": "greeting", "label": "production",
                                 "variants": {"a": {"version": 1}, "b": {"version": 2}}}},
    }))
    monkeypatch.setenv("MESH_PROMPTS_DIR", str(tmp_path / "prompts"))
    report = _run(["experiments", "report", "tone", "--json", "--progress", "--config", str(config),
                   "--data-dir", str(tmp_path / "exp")])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["experiment"] == "tone"
    assert "experiment tone: reading outcomes" in report.stderr and report.stderr.splitlines()[-1] == "experiment tone: 0 outcomes"

    fleet = _run(["fleet", "profile", "--json", "--progress", "--since", str(time.time() - 3600), "--data-dir", str(data)])
    assert fleet.exit_code == 0, fleet.output
    assert json.loads(fleet.stdout)["traffic"]["chat"]["prompt_tokens"] == 10.0
    assert fleet.stderr.splitlines() == ["fleet: reading the request log", "fleet: profiling 30 requests",
                                         "fleet: 1 route(s) profiled"]


def test_a_terminal_on_stderr_gets_progress_by_default(data):
    """A real process whose stderr is a pseudo-terminal and stdout a pipe: the line is redrawn on the
    terminal, stdout is the CSV alone."""
    def run(*extra: str) -> tuple[str, str]:
        leader, follower = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        process = subprocess.Popen([sys.executable, "-m", "llm_mesh.cli.main", "costs", "--data-dir", str(data),
                                    "--group-by", "app", "--csv", *extra], stdout=subprocess.PIPE, stderr=follower,
                                   env=env, cwd=ROOT)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        stdout = process.stdout.read().decode()
        assert process.wait(timeout=60) == 0
        os.close(leader)
        return stdout, seen.decode()

    stdout, terminal = run()
    assert stdout.splitlines()[0].startswith("app,requests") and len(stdout.splitlines()) == 4
    assert "\r\x1b[2Kledger: records: 250/250 (100%)" in terminal and "ledger: 250 matching records, 3 groups" in terminal
    assert "ledger" not in stdout
