"""The fleet: section through `mesh validate`, and `mesh fleet profile|plan` over a SQLite request log."""

from __future__ import annotations

import json
import time

import yaml
from click.testing import CliRunner

from llm_mesh.cli.main import cli
from llm_mesh.stores.interfaces import RequestLogEntry
from llm_mesh.stores.sqlite import open_sqlite_stores

BASE = {"providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}}}
FLEET = {
    "pools": {"g5": {"instance_type": "ml.g5.xlarge", "max_instances": 6},
              "p4d": {"instance_type": "ml.p4d.24xlarge", "max_instances": 1}},
    "models": {"chat-3b": {"parameters_b": 3.2, "max_context": 4096}, "code-3b": {"parameters_b": 3, "max_context": 4096},
               "big-70b": {"parameters_b": 70}},
}


def _write(tmp_path, fleet) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "mesh.yaml"
    path.write_text(yaml.safe_dump({**BASE, "fleet": fleet}))
    return str(path)


def test_validate_reports_fleet_mistakes_with_paths(tmp_path):
    runner = CliRunner()
    good = runner.invoke(cli, ["validate", _write(tmp_path, FLEET)])
    assert good.exit_code == 0, good.output
    bad_fleet = {
        "pools": {"odd": {"instance_type": "ml.z9.huge", "min_instances": 3, "max_instances": 2}},
        "models": {"nosize": {"dtype": "int4"}, "zero": {"parameters_b": 7, "scale_to_zero": True}},
        "traffic": {"ghost": {"requests_per_s": 1}},
    }
    bad = runner.invoke(cli, ["validate", _write(tmp_path, bad_fleet)])
    assert bad.exit_code == 1
    for expected in ("min_instances (3) exceeds max_instances (2)", "give parameters_b (with dtype) or weights_gb",
                     "scale_to_zero needs min_copies: 0"):
        assert expected in bad.output
    unknown = runner.invoke(cli, ["validate", _write(tmp_path, {**FLEET, "pools": {"odd": {"instance_type": "ml.z9.huge"}},
                                                              "traffic": {"ghost": {}}})])
    assert unknown.exit_code == 1
    assert "fleet.pools.odd.instance_type: 'ml.z9.huge' is not in the catalogue" in unknown.output
    assert "fleet.traffic.ghost: unknown fleet model" in unknown.output


def _log(tmp_path, now: float) -> None:
    entries = []
    for i in range(120):  # chat-3b: 120 requests over the last 10 minutes, 2 overlapping at a time
        entries.append(RequestLogEntry(f"c{i}", now - 600 + i * 5, "app", "chat-3b", "sm", "chat-3b", "chat.completions",
                                       200, False, 9000.0, 8990.0, 10.0, prompt_tokens=400, completion_tokens=200))
    for i in range(30):
        entries.append(RequestLogEntry(f"b{i}", now - 600 + i * 20, "app", "big-70b", "sm", "big-70b", "chat.completions",
                                       200 if i % 10 else 503, True, 3000.0, 2990.0, 10.0, prompt_tokens=1000, completion_tokens=100))
    entries.append(RequestLogEntry("old", now - 90_000, "app", "chat-3b", "sm", "chat-3b", "chat.completions",
                                   200, False, 1.0, 1.0, 0.0, prompt_tokens=1, completion_tokens=1))
    with open_sqlite_stores(tmp_path / "mesh.db") as stores:
        stores.request_log.append_many(entries)


def test_profile_then_plan(tmp_path):
    now = time.time()
    _log(tmp_path, now)
    runner = CliRunner()
    since = str(now - 600)
    until = str(now)
    out = runner.invoke(cli, ["fleet", "profile", "--since", since, "--until", until, "--data-dir", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    traffic = json.loads(out.output)["traffic"]
    assert traffic["chat-3b"] == {"requests_per_s": 0.2, "prompt_tokens": 400.0, "completion_tokens": 200.0,
                                  "peak_concurrency": 2.0}
    assert traffic["big-70b"]["requests_per_s"] == 0.045  # 27 answered of 30, the three 503s left out
    table = runner.invoke(cli, ["fleet", "profile", "--since", since, "--until", until, "--data-dir", str(tmp_path)])
    assert table.output.splitlines()[0].split()[:2] == ["ROUTE", "REQ/S"]

    profile_file = tmp_path / "profile.json"
    profile_file.write_text(out.output)
    config = _write(tmp_path, FLEET)
    plan = runner.invoke(cli, ["fleet", "plan", "--config", config, "--profile", str(profile_file), "--json"])
    assert plan.exit_code == 0, plan.output
    document = json.loads(plan.output)
    assert document["models"]["big-70b"]["tp"] == 4
    assert document["cost_per_hour"] < document["dedicated_baseline"]["cost_per_hour"]
    assert document["saving_percent"] > 0
    assert all(p["reason"] for p in document["placements"])
    text = runner.invoke(cli, ["fleet", "plan", "--config", config, "--since", since, "--until", until,
                               "--data-dir", str(tmp_path)])
    assert text.exit_code == 0, text.output
    assert "Dedicated baseline" in text.output and "Saving:" in text.output


def test_plan_refuses_bad_input_with_exit_2(tmp_path):
    runner = CliRunner()
    config = _write(tmp_path, FLEET)
    broken = tmp_path / "broken.json"
    broken.write_text('{"traffic": {"chat-3b": {"requests_per_s": -1}}}')
    out = runner.invoke(cli, ["fleet", "plan", "--config", config, "--profile", str(broken)])
    assert out.exit_code == 2 and "--profile" in out.output
    window = runner.invoke(cli, ["fleet", "profile", "--since", "2026-01-02", "--until", "2026-01-01",
                                 "--data-dir", str(tmp_path)])
    assert window.exit_code == 2 and "--until must be after --since" in window.output
    no_fleet = tmp_path / "plain.yaml"
    no_fleet.write_text(yaml.safe_dump(BASE))
    empty = runner.invoke(cli, ["fleet", "plan", "--config", str(no_fleet)])
    assert empty.exit_code == 2 and "no fleet" in empty.output


def test_plan_writes_the_inference_component_input(tmp_path):
    fleet = {**FLEET, "traffic": {"chat-3b": {"requests_per_s": 0.2}, "big-70b": {"requests_per_s": 0.3}}}
    deploy = tmp_path / "deploy.json"
    out = CliRunner().invoke(cli, ["fleet", "plan", "--config", _write(tmp_path, fleet), "--deploy", str(deploy)])
    assert out.exit_code == 0, out.output
    document = json.loads(deploy.read_text())
    components = {name: c for e in document["endpoints"].values() for name, c in e["inference_components"].items()}
    assert components["big-70b"]["compute_resource_requirements"]["number_of_accelerator_devices_required"] == 4
    assert components["chat-3b"]["runtime_config"]["copy_count"] == 1
    assert ["chat-3b", "code-3b"] in document["shared_gpus"]
