"""The local console: ``GET /console`` (one self-contained HTML page, no CDN) and the
admin JSON endpoints it draws from the same stores the CLI reads.

- ``GET /v1/mesh/console/spend?by=app|model&days=30``: spend per day per app or model (ledger)
- ``GET /v1/mesh/console/providers?hours=24``: requests, p50/p95 latency, error and
  rejection rates per provider, and hourly p95 per provider (request log)
- ``GET /v1/mesh/console/budgets``: each budget's spend, limit and burn in its period
- the spend charts' dashed forecast line comes from ``GET /v1/mesh/costs/forecast`` (http/costs.py)

The page itself holds no data: it asks for an admin key (kept in the tab's
sessionStorage) and sends it as a Bearer token. Nothing here is cached.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from decimal import Decimal
from importlib import resources
from typing import Any, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from llm_mesh.cost.ledger import CostQuery, run_query
from llm_mesh.errors import InvalidRequest, MeshError, NotFound
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.management import require_admin
from llm_mesh.runtime import MeshRuntime

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
REQUEST_LOG_SCAN = 20_000  # newest request-log entries the latency view reads
DAY = 86_400


def _bounded_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}", param=name) from None
    if not low <= number <= high:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}", param=name)
    return number


def _day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d")


def spend_series(ledger: Any, by: str, days: int, now: float) -> dict[str, Any]:
    """Spend per UTC day for each app (or model), oldest day first, USD as floats for charting."""
    first = dt.datetime.fromtimestamp(now, dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    since = first.timestamp() - (days - 1) * DAY
    labels = [_day(since + i * DAY) for i in range(days)]
    _, groups = run_query(ledger, CostQuery(since=since, until=now + 1, group_by=(by, "day")))
    series: dict[str, list[float]] = {}
    for group in groups:
        points = series.setdefault(group[by] or "(none)", [0.0] * days)
        if group["day"] in labels:
            points[labels.index(group["day"])] += float(Decimal(group["cost_usd"]))
    ordered = sorted(series.items(), key=lambda item: -sum(item[1]))
    return {
        "object": "mesh.console.spend", "by": by, "days": labels,
        "series": [{"name": name, "points": [round(p, 9) for p in points], "total_usd": round(sum(points), 9)}
                   for name, points in ordered],
    }


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not values:
        return None
    return values[max(0, math.ceil(fraction * len(values)) - 1)]


def provider_health(entries: Iterable[Any], hours: int, now: float) -> dict[str, Any]:
    since = (now // 3600 - (hours - 1)) * 3600  # whole UTC hours; the last bucket is the current hour
    buckets = [since + i * 3600 for i in range(hours)]
    per: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.timestamp < since:
            continue
        stats = per.setdefault(entry.provider or "(none)", {"latencies": [], "errors": 0, "rejected": 0, "hourly": {}})
        stats["latencies"].append(entry.latency_ms)
        stats["errors"] += int(entry.status >= 500)
        stats["rejected"] += int(400 <= entry.status < 500)
        stats["hourly"].setdefault(min(hours - 1, int((entry.timestamp - since) // 3600)), []).append(entry.latency_ms)
    rows = []
    for name, stats in sorted(per.items()):
        latencies = sorted(stats["latencies"])
        count = len(latencies)
        rows.append({
            "provider": name, "requests": count, "errors": stats["errors"], "rejected": stats["rejected"],
            "error_rate": round(stats["errors"] / count, 4), "rejected_rate": round(stats["rejected"] / count, 4),
            "p50_ms": percentile(latencies, 0.5), "p95_ms": percentile(latencies, 0.95),
            "hourly_p95_ms": [percentile(sorted(stats["hourly"].get(i, [])), 0.95) for i in range(hours)],
        })
    return {"object": "mesh.console.providers", "hours": hours,
            "buckets": [dt.datetime.fromtimestamp(b, dt.timezone.utc).strftime("%Y-%m-%dT%H:00Z") for b in buckets],
            "data": rows}


def budget_burn(runtime: MeshRuntime, now: float) -> dict[str, Any]:
    from llm_mesh.cost.hook import CostHook

    hook = next((h for h in runtime.service.hooks if isinstance(h, CostHook)), None)
    if hook is None or hook.budgets is None:
        return {"object": "list", "data": []}
    subjects = {"app": sorted(runtime.config.apps), "team": sorted({i.team for i in hook.costs.apps.values() if i.team})}
    rows = []
    for row in hook.budgets.status(now, subjects):
        limit = Decimal(row["limit_usd"])
        used = Decimal(row["spent_usd"]) + Decimal(row["reserved_usd"])
        rows.append({**row, "burn": float(used / limit) if limit else 0.0})
    return {"object": "list", "data": rows}


def _page() -> str:
    return resources.files("llm_mesh.http").joinpath("console.html").read_text(encoding="utf-8")


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    async def admin_json(request: Request, endpoint: str, build: Any) -> Response:
        ctx = RequestContext(endpoint=endpoint)
        try:
            require_admin(runtime, ctx, request)
            body = build(request.query_params, time.time())
        except MeshError as error:
            response = error_response(error, ctx)
            response.headers.update(NO_STORE)
            return response
        return JSONResponse(body, headers={**ctx.response_headers(), **NO_STORE})

    def spend(params: Any, now: float) -> dict[str, Any]:
        ledger = getattr(runtime.stores, "ledger", None)
        if ledger is None:
            raise NotFound("this mesh has no cost ledger")
        by = params.get("by", "app")
        if by not in ("app", "model", "team", "route", "provider"):
            raise InvalidRequest("by must be one of app, model, team, route, provider", param="by")
        return spend_series(ledger, by, _bounded_int(params.get("days"), "days", 30, 1, 366), now)

    def providers(params: Any, now: float) -> dict[str, Any]:
        hours = _bounded_int(params.get("hours"), "hours", 24, 1, 24 * 14)
        runtime.log_writer.flush()  # the latest requests count too
        return provider_health(runtime.stores.request_log.recent(REQUEST_LOG_SCAN), hours, now)

    @app.get("/v1/mesh/console/spend")
    async def console_spend(request: Request) -> Response:
        return await admin_json(request, "mesh.console.spend", spend)

    @app.get("/v1/mesh/console/providers")
    async def console_providers(request: Request) -> Response:
        return await admin_json(request, "mesh.console.providers", providers)

    @app.get("/v1/mesh/console/budgets")
    async def console_budgets(request: Request) -> Response:
        return await admin_json(request, "mesh.console.budgets", lambda params, now: budget_burn(runtime, now))

    @app.get("/console", include_in_schema=False)
    async def console_page() -> Response:
        return HTMLResponse(_page(), headers={**NO_STORE, "content-security-policy": "default-src 'self'; "
                                              "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"})
