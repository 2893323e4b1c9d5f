"""``GET /v1/mesh/costs``: the cost ledger, grouped and filtered, JSON or CSV.

Any authenticated app may call it and sees only its own costs; admin apps see
every app's (and may filter with ``app=``). Query parameters: ``since``/``until``
(epoch seconds or ISO dates, default: the current UTC month), ``app``, ``team``,
``project``, ``route``, ``provider``, ``model``, ``user``, ``tag=k=v`` (repeatable),
``group_by=app,model`` (app, team, project, user, route, provider, model, endpoint,
day, month, tag:<key>), ``format=csv`` (grouped rows, or records when no group_by),
``records=true`` (include the records in JSON).

``GET /v1/mesh/costs/forecast`` (admin): month-end projection per group (``group_by``,
default ``app``; ``days`` of run-rate, default 7; ``app`` to narrow), method in
``llm_mesh.cost.forecast`` and repeated in the answer's ``method`` field.

Mounting it also binds the semantic cache's embedder to the service (embeddings
go through the mesh as the calling app).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import QueryParams

from llm_mesh.cost.forecast import (
    DEFAULT_LOOKBACK_DAYS,
    FORECAST_FIELDS,
    MAX_LOOKBACK_DAYS,
    ForecastWindow,
    ledger_forecast,
)
from llm_mesh.cost.hook import CostHook
from llm_mesh.cost.ledger import CostQuery, parse_tag_filters, parse_time, record_dict, records_csv, run_query, to_csv
from llm_mesh.errors import InvalidRequest, MeshError, NotFound, PermissionDenied
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.identity import inbound_identity
from llm_mesh.http.management import require_admin
from llm_mesh.identity import Caller
from llm_mesh.runtime import MeshRuntime
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest


def month_start(now: float) -> float:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def _service_embedder(runtime: MeshRuntime) -> Any:
    async def embed(ctx: RequestContext, route: str, text: str) -> list[float]:
        inner = RequestContext(endpoint="embeddings.cache", caller=ctx.caller, tags=dict(ctx.tags))
        response = await runtime.service.embeddings(inner, EmbeddingsRequest(model=route, input=text))  # recorded
        return list(response.data[0].embedding)  # type: ignore[arg-type]

    return embed


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    for hook in runtime.service.hooks:
        if isinstance(hook, CostHook) and hook.embedder is None:
            hook.embedder = _service_embedder(runtime)

    @app.get("/v1/mesh/costs/forecast", openapi_extra=FORECAST_OPENAPI)
    async def costs_forecast(request: Request) -> Response:
        """Month-end spend projection per app, team... (admin)."""
        return forecast_answer(runtime, request)

    @app.get("/v1/mesh/costs")
    async def costs(request: Request) -> Response:
        return costs_answer(runtime, request)

    @app.get("/v1/mesh/budgets")
    async def budgets(request: Request) -> Response:
        """Each budget's spend and reservations in its current period; an app sees the budgets it draws on."""
        return budgets_answer(runtime, request)


def cost_query(params: QueryParams, caller: Caller, now: float) -> CostQuery:
    """The ledger query the parameters ask for; an app that is not admin sees only its own costs."""
    app_name = params.get("app")
    if not caller.admin:
        if app_name not in (None, caller.app):
            raise PermissionDenied("an app may only read its own costs")
        app_name = caller.app
    try:
        return CostQuery(
            since=parse_time(params.get("since"), month_start(now)),
            until=parse_time(params.get("until"), now + 1, end_of_day=True),
            app=app_name, team=params.get("team"), project=params.get("project"), route=params.get("route"),
            provider=params.get("provider"), model=params.get("model"), user=params.get("user"),
            tags=parse_tag_filters(params.getlist("tag")),
            group_by=tuple(g for g in (params.get("group_by") or "").split(",") if g),
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def costs_answer(runtime: MeshRuntime, request: Request) -> Response:
    ctx = RequestContext(endpoint="mesh.costs")
    params = request.query_params
    try:
        caller = runtime.service.authenticate(ctx, inbound_identity(request, runtime.home))
        ledger = getattr(runtime.stores, "ledger", None)
        if ledger is None:
            raise NotFound("this mesh has no cost ledger (no ledger table)")
        query = cost_query(params, caller, time.time())
        records, groups = run_query(ledger, query)
    except MeshError as error:
        return error_response(error, ctx)
    headers = ctx.response_headers()
    if params.get("format") == "csv":
        body = to_csv(groups) if query.group_by else records_csv(records)
        headers["content-disposition"] = 'attachment; filename="mesh-costs.csv"'
        return Response(body, media_type="text/csv", headers=headers)
    payload: dict[str, Any] = {
        "object": "mesh.costs", "since": query.since, "until": query.until, "group_by": list(query.group_by),
        "groups": groups,
    }
    if params.get("records") in ("1", "true"):
        payload["records"] = [record_dict(r) for r in records]
    return JSONResponse(payload, headers=headers)


def budgets_answer(runtime: MeshRuntime, request: Request) -> Response:
    ctx = RequestContext(endpoint="mesh.budgets")
    try:
        caller = runtime.service.authenticate(ctx, inbound_identity(request, runtime.home))
        hook = next((h for h in runtime.service.hooks if isinstance(h, CostHook)), None)
        if hook is None or hook.budgets is None:
            raise NotFound("no budgets are configured")
        team, _ = hook._team(caller.app)
        if caller.admin:
            subjects = {"app": sorted(runtime.config.apps),
                        "team": sorted({i.team for i in hook.costs.apps.values() if i.team})}
        else:
            subjects = {"app": [caller.app], "team": [team] if team else []}
        rows = hook.budgets.status(time.time(), subjects)
        if not caller.admin:
            rows = [r for r in rows if r["scope"] == "global" or r["subject"] in (caller.app, team)]
    except MeshError as error:
        return error_response(error, ctx)
    return JSONResponse({"object": "list", "data": rows}, headers=ctx.response_headers())


FORECAST_OPENAPI: dict[str, Any] = {
    "parameters": [
        {"name": "days", "in": "query", "required": False, "description": "run-rate window in days (ending now)",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LOOKBACK_DAYS, "default": DEFAULT_LOOKBACK_DAYS}},
        {"name": "group_by", "in": "query", "required": False, "description": "comma list of " + ", ".join(FORECAST_FIELDS),
         "schema": {"type": "string", "default": "app"}},
        {"name": "app", "in": "query", "required": False, "description": "only this app's spend",
         "schema": {"type": "string"}},
    ],
    "responses": {
        "200": {"description": "projected = month-to-date + (spend over the last `days` days / `days`) x days left"},
        "400": {"description": "bad parameter (OpenAI error shape)"},
        "403": {"description": "not an admin app"},
    },
}


def forecast_answer(runtime: MeshRuntime, request: Request) -> Response:
    ctx = RequestContext(endpoint="mesh.costs.forecast")
    params = request.query_params
    try:
        require_admin(runtime, ctx, request)
        ledger = getattr(runtime.stores, "ledger", None)
        if ledger is None:
            raise NotFound("this mesh has no cost ledger (no ledger table)")
        days = params.get("days", str(DEFAULT_LOOKBACK_DAYS))
        if not re.fullmatch(r"[0-9]{1,3}", days) or not 1 <= int(days) <= MAX_LOOKBACK_DAYS:
            raise InvalidRequest(f"days must be an integer from 1 to {MAX_LOOKBACK_DAYS}", param="days")
        group_by = tuple(g for g in (params.get("group_by") or "app").split(",") if g)
        try:
            body = ledger_forecast(ledger, ForecastWindow.at(time.time(), int(days)), group_by, app=params.get("app"))
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="group_by") from None
    except MeshError as error:
        return error_response(error, ctx)
    return JSONResponse(body, headers={**ctx.response_headers(), "cache-control": "no-store"})
