"""Governance endpoints: ``POST /v1/mesh/redact`` (redaction as a service, any
authenticated app) and ``GET /v1/mesh/audit`` (the audit trail, admins only).

``POST /v1/mesh/redact`` body: ``{"text": "..."}`` or ``{"texts": [...]}``, optional
``"policy": NAME`` (one the app may use, see ``policies_for_caller``; default: the
policies bound to the app, or ``"route": R`` to get that route's). Answer:
``{"texts", "findings": [[{type, start, end, score, action, policy}]], "decisions",
"classifications"}`` — findings carry spans into the caller's own text, never values.
A ``block`` action answers 400 ``pii_blocked``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_mesh.errors import InvalidRequest, MeshError, PermissionDenied
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.body import read_json, validate
from llm_mesh.http.identity import inbound_identity
from llm_mesh.identity import Authenticator, Caller
from llm_mesh.policy.engine import PolicyEngine
from llm_mesh.policy.governance import governance_of
from llm_mesh.policy.hook import bound_policies, build_alert_sink, build_engines
from llm_mesh.policy.redact_service import policies_for_caller, run_policies

MAX_TEXTS = 256


class RedactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    texts: list[str] | None = Field(default=None, max_length=MAX_TEXTS)
    policy: str | None = None
    route: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "RedactRequest":
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of text or texts")
        return self


class RedactService:
    """What the redact endpoint needs, without a gateway: config, an authenticator, engines."""

    def __init__(self, config: Any, authenticator: Authenticator, engines: dict[str, PolicyEngine], home: str = "local") -> None:
        self.config = config
        self.authenticator = authenticator
        self.engines = engines
        self.home = home

    @classmethod
    def build(cls, config: Any, authenticator: Authenticator, *, secrets: Any = None, home: str = "local") -> "RedactService":
        sink = build_alert_sink(config, home)
        return cls(config, authenticator, build_engines(config, secrets=secrets, alert_sink=sink, home=home), home)

    def choose(self, caller: Caller, body: RedactRequest) -> list[PolicyEngine]:
        if body.policy is not None:
            if body.policy not in self.engines:
                raise InvalidRequest(f"unknown policy {body.policy!r}", param="policy")
            if body.policy not in policies_for_caller(self.config, caller.app, caller.admin):
                raise PermissionDenied(f"app {caller.app!r} may not use the policy {body.policy!r}", param="policy")
            return [self.engines[body.policy]]
        if body.route is not None:
            app = self.config.apps.get(caller.app)
            if body.route not in self.config.routes or app is None or not app.may_use(body.route):
                raise PermissionDenied(f"app {caller.app!r} may not use the route {body.route!r}", param="route")
        names = bound_policies(governance_of(self.config), caller.app, body.route or "")
        if not names:
            raise InvalidRequest("no policy is bound to this app; name one with 'policy'", param="policy")
        return [self.engines[n] for n in names]

    async def handle(self, request: Request, ctx: RequestContext) -> Response:
        try:
            ctx.caller = self.authenticator.authenticate(inbound_identity(request, self.home))
            body = validate(RedactRequest, await read_json(request, 4 * 1024 * 1024))
            engines = self.choose(ctx.caller, body)
            texts = [body.text] if body.text is not None else list(body.texts or [])
            result = run_policies(engines, texts, context={"app": ctx.caller.app, "request_id": ctx.request_id})
        except MeshError as error:
            from llm_mesh.http.app import error_response

            return error_response(error, ctx)
        if body.text is not None:
            result["text"] = result["texts"][0]
        return JSONResponse({"object": "mesh.redaction", **result}, headers=ctx.response_headers())


def add_redact_route(app: FastAPI, service: RedactService) -> None:
    @app.post("/v1/mesh/redact")
    async def redact(request: Request) -> Response:
        return await service.handle(request, RequestContext(endpoint="mesh.redact"))


def _record_json(record: Any) -> dict[str, Any]:
    out = dict(record.__dict__)
    out["payload"] = record.payload is not None  # ciphertext stays in the store
    return out


def mount(app: FastAPI, runtime: Any) -> None:
    from llm_mesh.http.app import error_response
    from llm_mesh.http.management import require_admin

    service = RedactService.build(
        runtime.config, runtime.service.authenticator, secrets=getattr(runtime.service.providers, "_secrets", None),
        home=runtime.home,
    ) if runtime.config.policies else None
    if service is not None:
        add_redact_route(app, service)

    @app.get("/v1/mesh/audit")
    async def audit(request: Request) -> Response:
        ctx = RequestContext(endpoint="mesh.audit")
        try:
            require_admin(runtime, ctx, request)
            store = getattr(runtime.stores, "audit", None)
            if store is None:
                raise InvalidRequest("this mesh has no audit store")
            q = request.query_params
            try:
                since = float(q["since"]) if "since" in q else None
                until = float(q["until"]) if "until" in q else None
                limit = min(int(q.get("limit", "100")), 1000)
            except ValueError:
                raise InvalidRequest("since/until are epoch seconds, limit an integer") from None
            for hook in runtime.service.hooks:
                if getattr(hook, "name", "") == "audit":
                    hook.flush()
            records = store.query(app=q.get("app"), since=since, until=until, model=q.get("model"), limit=limit)
        except MeshError as error:
            return error_response(error, ctx)
        return JSONResponse({"object": "list", "data": [_record_json(r) for r in records]}, headers=ctx.response_headers())
