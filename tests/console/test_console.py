"""The local console: the page loads self-contained, and its JSON endpoints (admin only,
never cached) report spend, provider latency/errors and budget burn from real requests."""

from __future__ import annotations

import re

import httpx
import openai
import pytest

from tests.harness import serve_mesh

CONFIG = {
    "providers": {"echo": {"kind": "echo"}, "broken": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                                       "timeouts": {"connect": 0.5, "read": 1}}},
    "routes": {
        "echo": {"provider": "echo", "model": "echo-1"},
        "down": {"provider": "broken", "model": "gpt-x"},
    },
    "apps": {"ops": {"routes": "*", "admin": True}, "shop": {"routes": ["echo"]}},
    "costs": {
        "apps": {"ops": {"team": "platform"}, "shop": {"team": "retail"}},
        "prices": {"echo": {"echo-1": {"input": "2.00", "output": "4.00"}}},
        "budgets": [{"name": "retail-monthly", "scope": "team", "match": "retail", "limit_usd": "1"}],
    },
}


@pytest.fixture(scope="module")
def mesh():
    with serve_mesh(CONFIG) as running:
        for app, count in (("ops", 2), ("shop", 3)):
            client = openai.OpenAI(base_url=running.base_url, api_key=running.key_for(app), max_retries=0)
            for n in range(count):
                client.chat.completions.create(model="echo", messages=[{"role": "user", "content": f"{app} {n}"}])
        ops = openai.OpenAI(base_url=running.base_url, api_key=running.key_for("ops"), max_retries=0)
        with pytest.raises(openai.APIStatusError):
            ops.chat.completions.create(model="down", messages=[{"role": "user", "content": "x"}])
        running.flush_logs()
        yield running


def _get(mesh, path: str, app: str = "ops") -> httpx.Response:
    return httpx.get(mesh.root_url + path, headers={"Authorization": f"Bearer {mesh.key_for(app)}"})


def test_the_page_is_self_contained_and_never_cached(mesh):
    page = httpx.get(mesh.root_url + "/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)  # no CDN, nothing remote
    for endpoint in ("/v1/mesh/console/spend", "/v1/mesh/console/providers", "/v1/mesh/console/budgets",
                     "/v1/mesh/costs/forecast"):
        assert endpoint in page.text


def test_spend_by_app_and_by_model_per_day(mesh):
    by_app = _get(mesh, "/v1/mesh/console/spend?by=app&days=7")
    assert by_app.status_code == 200 and by_app.headers["cache-control"] == "no-store"
    body = by_app.json()
    assert len(body["days"]) == 7
    series = {s["name"]: s for s in body["series"]}
    assert set(series) == {"ops", "shop"}
    assert series["shop"]["points"][-1] > series["ops"]["points"][-1] > 0  # three priced calls against two, today
    assert sum(series["shop"]["points"][:-1]) == 0
    by_model = _get(mesh, "/v1/mesh/console/spend?by=model&days=7").json()
    assert [s["name"] for s in by_model["series"]][0] == "echo-1"
    assert by_model["series"][0]["total_usd"] == pytest.approx(series["ops"]["total_usd"] + series["shop"]["total_usd"])


def test_latency_and_error_rate_per_provider(mesh):
    rows = {r["provider"]: r for r in _get(mesh, "/v1/mesh/console/providers?hours=2").json()["data"]}
    assert rows["echo"]["requests"] == 5 and rows["echo"]["error_rate"] == 0
    assert 0 < rows["echo"]["p50_ms"] <= rows["echo"]["p95_ms"]
    assert rows["echo"]["hourly_p95_ms"][-1] == rows["echo"]["p95_ms"]
    assert rows["broken"]["requests"] == 1 and rows["broken"]["error_rate"] == 1.0


def test_budget_burn(mesh):
    rows = _get(mesh, "/v1/mesh/console/budgets").json()["data"]
    assert [(r["budget"], r["subject"]) for r in rows] == [("retail-monthly", "retail")]
    assert 0 < rows[0]["burn"] < 1 and float(rows[0]["spent_usd"]) > 0


def test_admin_only_and_bad_parameters_are_4xx(mesh):
    denied = _get(mesh, "/v1/mesh/console/spend", app="shop")
    assert denied.status_code == 403 and denied.json()["error"]["type"] == "permission_error"
    assert httpx.get(mesh.root_url + "/v1/mesh/console/budgets").status_code == 401
    bad = _get(mesh, "/v1/mesh/console/spend?days=0")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "days"
    assert _get(mesh, "/v1/mesh/console/spend?by=colour").status_code == 400
    assert _get(mesh, "/v1/mesh/console/providers?hours=x").status_code == 400
