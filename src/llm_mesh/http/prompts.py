"""Prompt catalogue admin API and feedback.

Admin (``admin: true`` apps):
- ``GET  /v1/mesh/prompts``                              names, versions, labels
- ``GET  /v1/mesh/prompts/{name}``                       every version and the labels
- ``POST /v1/mesh/prompts/{name}/versions``              publish a new version (body: a prompt version)
- ``GET  /v1/mesh/prompts/{name}/diff?from=1&to=2``      unified diff
- ``POST /v1/mesh/prompts/{name}/labels/{label}``        move a label: ``{"version": 2}``
- ``POST /v1/mesh/prompts/{name}/labels/{label}/rollback``
- ``GET  /v1/mesh/experiments/{name}``                   the report, per variant, with significance tests
- ``POST /v1/mesh/experiments/{name}/promote``           ``{"variant": "b"}`` (default: the significant winner)
Any app, for its own requests:
- ``POST /v1/mesh/feedback``                             ``{"request_id": "req_...", "score": 1, "comment": "..."}``
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from llm_mesh.errors import InvalidRequest, MeshError, NotFound
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.body import parse_json, read_body, read_json
from llm_mesh.http.identity import inbound_identity
from llm_mesh.http.management import require_admin
from llm_mesh.identity import Caller
from llm_mesh.prompts.catalogue import PromptConflict
from llm_mesh.prompts.config import PromptSpec
from llm_mesh.prompts.hook import PromptHook, find_prompt_hook
from llm_mesh.runtime import MeshRuntime


def prompt_summary(hook: PromptHook, name: str) -> dict[str, Any]:
    versions = hook.catalogue.versions(name)
    return {"name": name, "versions": [v.version for v in versions], "labels": hook.catalogue.labels(name, fresh=True),
            "latest": versions[-1].version if versions else None}


Work = Callable[[PromptHook, Caller], Awaitable[Any]]


class PromptRoutes:
    """What every prompt route shares: the catalogue's hook, the admin check, the body reader."""

    def __init__(self, runtime: MeshRuntime) -> None:
        self.runtime = runtime
        self.hook = find_prompt_hook(runtime.service)
        self.limit = runtime.config.server.max_body_bytes

    async def admin(self, request: Request, endpoint: str, work: Work) -> Response:
        ctx = RequestContext(endpoint=endpoint)
        try:
            caller = require_admin(self.runtime, ctx, request)
            if self.hook is None:
                raise NotFound("the prompt catalogue is not configured (add a prompts section)", code="prompts_not_configured")
            body = await work(self.hook, caller)
        except PromptConflict as conflict:
            return error_response(InvalidRequest(str(conflict), code="prompt_version_conflict"), ctx)
        except MeshError as error:
            return error_response(error, ctx)
        return JSONResponse(body, headers=ctx.response_headers())

    async def json_object(self, request: Request) -> dict[str, Any]:
        return _json_object(await read_json(request, self.limit))


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    routes = PromptRoutes(runtime)
    _mount_catalogue(app, routes)
    _mount_labels(app, routes)
    _mount_experiments(app, routes)

    @app.post("/v1/mesh/feedback")
    async def feedback(request: Request) -> Response:
        return await feedback_answer(routes, request)


def _mount_catalogue(app: FastAPI, routes: PromptRoutes) -> None:
    @app.get("/v1/mesh/prompts")
    async def list_prompts(request: Request) -> Response:
        async def work(h: PromptHook, _: Caller) -> Any:
            return {"object": "list", "data": [prompt_summary(h, n) for n in h.catalogue.names()]}
        return await routes.admin(request, "mesh.prompts", work)

    @app.get("/v1/mesh/prompts/{name}")
    async def show_prompt(name: str, request: Request) -> Response:
        async def work(h: PromptHook, _: Caller) -> Any:
            summary = prompt_summary(h, name)
            if not summary["versions"]:
                raise NotFound(f"there is no prompt named {name!r}", code="prompt_not_found")
            return {**summary, "data": [v.as_dict() for v in h.catalogue.versions(name)]}
        return await routes.admin(request, "mesh.prompts", work)

    @app.post("/v1/mesh/prompts/{name}/versions")
    async def create_version(name: str, request: Request) -> Response:
        async def work(h: PromptHook, caller: Caller) -> Any:
            try:
                spec = PromptSpec.model_validate(await routes.json_object(request))
            except ValidationError as exc:
                raise InvalidRequest(f"invalid prompt version: {exc.errors()[0]['msg']}") from None
            return h.catalogue.create_version(name, spec, author=caller.app).as_dict()
        return await routes.admin(request, "mesh.prompts", work)

    @app.get("/v1/mesh/prompts/{name}/diff")
    async def diff(name: str, request: Request) -> Response:
        async def work(h: PromptHook, _: Caller) -> Any:
            a, b = _version_param(request, "from"), _version_param(request, "to")
            return {"name": name, "from": a, "to": b, "diff": h.catalogue.diff(name, a, b)}
        return await routes.admin(request, "mesh.prompts", work)


def _version_param(request: Request, name: str) -> int:
    try:
        return int(request.query_params[name])
    except (KeyError, ValueError):
        raise InvalidRequest("give from=N&to=M version numbers", param=name) from None


def _mount_labels(app: FastAPI, routes: PromptRoutes) -> None:
    @app.post("/v1/mesh/prompts/{name}/labels/{label}")
    async def move_label(name: str, label: str, request: Request) -> Response:
        async def work(h: PromptHook, caller: Caller) -> Any:
            version = (await routes.json_object(request)).get("version")
            if not isinstance(version, int):
                raise InvalidRequest("version must be an integer", param="version")
            move = h.catalogue.move_label(name, label, version, caller.app)
            return {"name": name, "label": label, "version": move.version}
        return await routes.admin(request, "mesh.prompts", work)

    @app.post("/v1/mesh/prompts/{name}/labels/{label}/rollback")
    async def rollback(name: str, label: str, request: Request) -> Response:
        async def work(h: PromptHook, caller: Caller) -> Any:
            move = h.catalogue.rollback(name, label, caller.app)
            return {"name": name, "label": label, "version": move.version}
        return await routes.admin(request, "mesh.prompts", work)


def _mount_experiments(app: FastAPI, routes: PromptRoutes) -> None:
    @app.get("/v1/mesh/experiments/{name}")
    async def report(name: str, request: Request) -> Response:
        async def work(h: PromptHook, _: Caller) -> Any:
            return _finite(h.experiments.report(name))
        return await routes.admin(request, "mesh.experiments", work)

    @app.post("/v1/mesh/experiments/{name}/promote")
    async def promote(name: str, request: Request) -> Response:
        async def work(h: PromptHook, caller: Caller) -> Any:
            raw = await read_body(request, routes.limit)  # an empty body: promote the significant winner
            variant = _json_object(parse_json(raw)).get("variant") if raw else None
            return h.experiments.promote(name, variant, caller.app)
        return await routes.admin(request, "mesh.experiments", work)


async def feedback_answer(routes: PromptRoutes, request: Request) -> Response:
    """Any app scores its own prompt-rendered requests (admins any request)."""
    ctx = RequestContext(endpoint="mesh.feedback")
    hook = routes.hook
    try:
        caller = routes.runtime.service.authenticate(ctx, inbound_identity(request, routes.runtime.home))
        body = await routes.json_object(request)
        request_id, score, comment = body.get("request_id"), body.get("score"), body.get("comment")
        if not isinstance(request_id, str) or not request_id:
            raise InvalidRequest("request_id is required (the x-mesh-request-id of the answer)", param="request_id")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not -1 <= score <= 5:
            raise InvalidRequest("score must be a number from -1 to 5 (e.g. 1 / -1 for thumbs up / down)", param="score")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
            raise InvalidRequest("comment must be a string of at most 2000 characters", param="comment")
        known = hook.store.get_outcome(request_id) if hook is not None else None
        if known is None or (known.app != caller.app and not caller.admin):
            raise NotFound(f"no prompt-rendered request {request_id!r} of this app", code="request_not_found")
        hook.store.set_feedback(request_id, float(score), comment)  # type: ignore[union-attr]
    except MeshError as error:
        return error_response(error, ctx)
    return JSONResponse({"request_id": request_id, "recorded": True}, headers=ctx.response_headers())


def _finite(value: Any) -> Any:
    """JSON has no infinity: report unbounded statistics as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
