"""``GET /v1/mesh/costs/forecast`` end to end: priced calls through the openai SDK, then the
projection over HTTP matches the ledger's month-to-date figures; admin only; bad params are 400s."""

from __future__ import annotations

from decimal import Decimal

import httpx
import openai
import pytest

from llm_mesh.http.app import create_app
from tests.harness import serve_mesh

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "apps": {"ops": {"routes": "*", "admin": True}, "shop": {"routes": ["echo"]}},
    "costs": {"apps": {"ops": {"team": "platform"}, "shop": {"team": "retail"}},
              "prices": {"echo": {"echo-1": {"input": "2.00", "output": "4.00"}}}},
}


@pytest.fixture(scope="module")
def mesh():
    with serve_mesh(CONFIG) as running:
        for app, count in (("ops", 1), ("shop", 3)):
            client = openai.OpenAI(base_url=running.base_url, api_key=running.key_for(app), max_retries=0)
            for n in range(count):
                client.chat.completions.create(model="echo", messages=[{"role": "user", "content": f"{app} call {n}"}])
        yield running


def _get(mesh, path: str, app: str = "ops") -> httpx.Response:
    return httpx.get(mesh.root_url + path, headers={"Authorization": f"Bearer {mesh.key_for(app)}"})


def test_projection_per_app_and_team_matches_the_ledger(mesh):
    ledger = {g["app"]: g for g in _get(mesh, "/v1/mesh/costs?group_by=app").json()["groups"]}
    answer = _get(mesh, "/v1/mesh/costs/forecast?group_by=app,team&days=7")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "mesh.costs.forecast" and "last 7 day(s) / 7" in body["method"]
    rows = {r["app"]: r for r in body["groups"]}
    assert rows["shop"]["team"] == "retail" and rows["ops"]["team"] == "platform"
    assert [r["app"] for r in body["groups"]] == ["shop", "ops"]  # three calls against one
    days_left = Decimal(str(body["days_left"]))
    for app in ("ops", "shop"):
        mtd = Decimal(ledger[app]["cost_usd"])
        assert Decimal(rows[app]["month_to_date_usd"]) == mtd > 0
        assert rows[app]["requests_this_month"] == ledger[app]["requests"]
        assert Decimal(rows[app]["daily_rate_usd"]) == (mtd / 7).quantize(Decimal("1e-9"))  # all spend is today
        assert Decimal(rows[app]["projected_usd"]) == pytest.approx(mtd + mtd / 7 * days_left, abs=Decimal("1e-6"))
    narrowed = _get(mesh, "/v1/mesh/costs/forecast?app=shop").json()
    assert [r["app"] for r in narrowed["groups"]] == ["shop"]


def test_admin_only_and_bad_parameters_are_openai_errors(mesh):
    denied = _get(mesh, "/v1/mesh/costs/forecast", app="shop")
    assert denied.status_code == 403 and denied.json()["error"]["type"] == "permission_error"
    assert httpx.get(mesh.root_url + "/v1/mesh/costs/forecast").status_code == 401
    for query, param in (("days=0", "days"), ("days=x", "days"), ("days=" + "9" * 5000, "days"),
                         ("group_by=colour", "group_by"), ("group_by=day", "group_by")):
        bad = _get(mesh, "/v1/mesh/costs/forecast?" + query)
        assert bad.status_code == 400, (query, bad.text)
        error = bad.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_documented_in_the_openapi_document(mesh):
    operation = create_app(mesh.runtime).openapi()["paths"]["/v1/mesh/costs/forecast"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"days", "group_by", "app"}
    assert "days left" in operation["responses"]["200"]["description"]
