"""One HTTP layer for every route: who is calling (a FastAPI dependency) and what an
error looks like (one exception handler).

``caller_context(endpoint)`` makes the request's context, authenticates the caller
and keeps the context on ``request.state``; a route only declares it. Any
:class:`MeshError` a route or the service raises reaches ``mesh_error_handler``,
which records the request if the service never did (authentication failures, bad
bodies: the service records everything it handled itself) and answers in the
route's own error shape (OpenAI's unless the route set another renderer).
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from llm_mesh.errors import MeshError
from llm_mesh.gateway.context import RequestContext, new_request_id
from llm_mesh.http.identity import inbound_identity

ErrorRenderer = Callable[[MeshError, RequestContext], JSONResponse]


def openai_error(error: MeshError, ctx: RequestContext | None = None) -> JSONResponse:
    headers = dict(error.headers)
    if ctx is not None:
        headers.update(ctx.response_headers())
    else:
        headers["x-mesh-request-id"] = new_request_id()
    return JSONResponse(error.to_body(), status_code=error.status, headers=headers)


def caller_context(endpoint: str, *, allow_x_api_key: bool = False, renderer: ErrorRenderer | None = None) -> Any:
    """A dependency: the authenticated request context of one endpoint."""

    async def dependency(request: Request) -> RequestContext:
        runtime = request.app.state.runtime
        ctx = RequestContext(endpoint=endpoint, headers=request.headers)
        request.state.mesh_ctx = ctx
        if renderer is not None:
            request.state.mesh_error_renderer = renderer
        await runtime.service.authenticate_off_loop(ctx, inbound_identity(request, runtime.home, allow_x_api_key=allow_x_api_key))
        return ctx

    return dependency


async def mesh_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MeshError)
    ctx: RequestContext | None = getattr(request.state, "mesh_ctx", None)
    if ctx is None:
        return openai_error(error)
    await request.app.state.runtime.service.finish(ctx, error.status, error=error)  # once: a no-op if the service did
    renderer: ErrorRenderer = getattr(request.state, "mesh_error_renderer", openai_error)
    return renderer(error, ctx)
