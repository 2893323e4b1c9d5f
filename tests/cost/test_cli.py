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


def test_mesh_costs_forecast(tmp_path):
    from decimal import Decimal

    now = time.time()
    with open_sqlite_stores(tmp_path / "mesh.db") as stores:
        for i, (app, team, cost) in enumerate([("bot", "cx", "0.7"), ("bot", "cx", "0.7"), ("ops", None, "0.07")]):
            stores.ledger.record(CostRecord(request_id=f"f{i}", timestamp=now - i, app=app, route="chat", provider="p",
                                            model="m", cost_usd=cost, team=team))
    runner = CliRunner()
    help_text = " ".join(runner.invoke(cli, ["costs", "--help"]).output.split())
    assert "month-to-date spend + daily run-rate x days left" in help_text
    out = runner.invoke(cli, ["costs", "--forecast", "--days", "7", "--csv", "--data-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "app,team,requests_this_month,month_to_date_usd,daily_rate_usd,projected_usd"
    app, team, requests, mtd, rate, projected = lines[1].split(",")
    assert (app, team, requests, mtd, rate) == ("bot", "cx", "2", "1.400000000", "0.200000000")
    assert Decimal(projected) > Decimal(mtd)  # month-to-date + 0.2/day for the days left
    table = runner.invoke(cli, ["costs", "--forecast", "--group-by", "team", "--data-dir", str(tmp_path)])
    assert table.exit_code == 0 and table.output.splitlines()[0].split()[0] == "TEAM"
    assert "projected" in table.output
    bad = runner.invoke(cli, ["costs", "--forecast", "--group-by", "day", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "cannot forecast by 'day'" in bad.output
