"""The ``/v1/mesh`` management API: admin views of the mesh itself.

Only apps with ``admin: true`` may call it. Capability-specific endpoints (costs,
audit, knowledge bases, prompts, agents) mount their own routers beside this one.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from llm_mesh.errors import MeshError, PermissionDenied
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.identity import inbound_identity
from llm_mesh.identity import Caller
from llm_mesh.runtime import MeshRuntime


def require_admin(runtime: MeshRuntime, ctx: RequestContext, request: Request) -> Caller:
    caller = runtime.service.authenticate(ctx, inbound_identity(request, runtime.home))
    if not caller.admin:
        raise PermissionDenied("the management API is for admin apps only")
    return caller


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    config = runtime.config

    @app.get("/v1/mesh/models")
    async def model_registry(request: Request) -> Response:
        ctx = RequestContext(endpoint="mesh.models")
        try:
            require_admin(runtime, ctx, request)
        except MeshError as error:
            return error_response(error, ctx)
        registered = {(e.provider, e.model) for e in config.models.values()}
        models = [
            {"id": name, **entry.model_dump(mode="json"), "registered": True}
            for name, entry in config.models.items()
        ]
        # Models reached by routes but not registered still show, with their provider's own capabilities.
        for route in config.routes.values():
            for target in route.targets:
                if target.provider is None or (target.provider, target.model) in registered:
                    continue
                registered.add((target.provider, target.model))
                caps = runtime.service.capabilities(target.provider, target.model or "")
                models.append({
                    "id": f"{target.provider}/{target.model}", "provider": target.provider, "model": target.model,
                    "registered": False, "hosting": None, "region": None, "owner": None,
                    "capabilities": {"tools": caps.tools, "vision": caps.vision, "json_schema": caps.json_schema,
                                     "embeddings": caps.embeddings, "context_window": caps.context_window},
                })
        routes = {
            name: {"strategy": route.strategy, "targets": [t.model_dump(mode="json", exclude_none=True) for t in route.targets]}
            for name, route in config.routes.items()
        }
        return JSONResponse({"object": "list", "data": models, "routes": routes}, headers=ctx.response_headers())
