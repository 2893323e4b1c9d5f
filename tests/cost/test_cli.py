"""``mesh costs`` on the embedded store: grouped table, filters, CSV."""

from __future__ import annotations

import time

from click.testing import CliRunner

from llm_mesh.cli.main import cli
from llm_mesh.stores.interfaces import CostRecord
from llm_mesh.stores.sqlite import open_sqlite_stores


def test_mesh_costs(tmp_path):
    now = time.time()
    with open_sqlite_stores(tmp_path / "mesh.db") as stores:
        for i, (app, model, cost) in enumerate([("bot", "gpt-4o", "0.001"), ("bot", "gpt-4o", "0.000000001"),
                                                ("bot", "claude", "0.5"), ("ops", "gpt-4o", "0.25")]):
            stores.ledger.record(CostRecord(request_id=f"r{i}", timestamp=now - i, app=app, route="chat",
                                            provider="p", model=model, cost_usd=cost, team="cx" if app == "bot" else None,
                                            tags={"purpose": "qa"} if i % 2 else {}))
    runner = CliRunner()
    out = runner.invoke(cli, ["costs", "--data-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split()[:3] == ["APP", "MODEL", "REQUESTS"]
    assert any(line.split()[:2] == ["bot", "gpt-4o"] and "0.001000001" in line for line in lines)
    csv = runner.invoke(cli, ["costs", "--data-dir", str(tmp_path), "--group-by", "team", "--csv"])
    assert csv.exit_code == 0
    assert csv.output.splitlines()[0].startswith("team,requests")
    assert "cx,3," in csv.output and "0.501000001" in csv.output
    tagged = runner.invoke(cli, ["costs", "--data-dir", str(tmp_path), "--tag", "purpose=qa", "--group-by", "", "--csv"])
    assert [line.split(",")[0] for line in tagged.output.splitlines()[1:]] == ["r3", "r1"]
    bad = runner.invoke(cli, ["costs", "--data-dir", str(tmp_path), "--group-by", "colour"])
    assert bad.exit_code == 2
