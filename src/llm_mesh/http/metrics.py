"""``GET /metrics``: the runtime's request metrics in the Prometheus text format.

Admin keys only (metrics name every app and route): point a scrape job at it with
``authorization: {credentials: <admin key>}``. A scrape is not a request the mesh
answers for an app, so it is neither logged nor counted.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from llm_mesh.errors import MeshError, NotFound
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.app import error_response
from llm_mesh.http.management import require_admin
from llm_mesh.runtime import MeshRuntime


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    exposition = getattr(runtime.metrics, "exposition", None)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        ctx = RequestContext(endpoint="mesh.metrics")
        try:
            require_admin(runtime, ctx, request)
            if exposition is None:
                raise NotFound("this home ships its metrics elsewhere (CloudWatch EMF on AWS)")
        except MeshError as error:
            return error_response(error, ctx)
        from llm_mesh.cost.prometheus import CONTENT_TYPE

        return Response(exposition(), media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})
