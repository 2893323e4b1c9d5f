"""``GET /v1/mesh/registry`` (admins only): the federated registry's fragments.

Answer: ``{"object": "list", "directory", "include", "data": [{unit, path, owner,
description, sla, guardrails, hosting, region, models, routes}]}``, one item per
fragment file merged into the running config (paths relative to mesh.yaml).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from llm_mesh.errors import MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.management import require_admin
from llm_mesh.runtime import MeshRuntime


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    registry = runtime.config.registry

    @app.get("/v1/mesh/registry")
    async def registry_fragments(request: Request) -> Response:
        ctx = RequestContext(endpoint="mesh.registry")
        try:
            require_admin(runtime, ctx, request)
        except MeshError as error:
            return error_response(error, ctx)
        body = {
            "object": "list", "directory": registry.directory, "include": list(registry.include),
            "data": [fragment.model_dump(mode="json") for fragment in registry.fragments],
        }
        return JSONResponse(body, headers=ctx.response_headers())
