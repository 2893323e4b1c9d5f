"""The data plane's short way through the web framework.

The mesh's data-plane routes (chat completions, embeddings) are most of its traffic, and at
a fast upstream the framework around a handler costs more than the handler: a profile of one
worker under load put about a quarter of the event loop's time in Starlette/FastAPI's
middleware chain (server-error, request-id, exception and exit-stack middlewares,
routing, dependency solving, each wrapping ``send``). :class:`MeshAPI` answers those routes
straight from its ASGI entry point with the very same handler functions, authentication
(``caller_context``), error rendering (``mesh_error_handler``) and request-id headers as the
routed path, so the answer is byte-for-byte the same; every other path, and anything this
layer does not recognise, goes through FastAPI as before. The routes stay declared on the
FastAPI app too, so OpenAPI lists them and ``TestClient`` tests see no difference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from llm_mesh.errors import InternalError, MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.http.request_id_headers import RequestIdHeaders
from llm_mesh.http.request_scope import caller_context, mesh_error_handler, openai_error

logger = logging.getLogger("llm_mesh.http")

Handler = Callable[[Request, RequestContext], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class DataPlaneRoute:
    endpoint: str  # the request context's endpoint name (as the routed path's dependency uses)
    handler: Handler  # the same function the FastAPI route calls


class MeshAPI(FastAPI):
    """FastAPI, plus a direct dispatch of registered ``POST`` data-plane paths."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._data_plane: dict[str, tuple[Callable[[Request], Awaitable[RequestContext]], Handler]] = {}

    def data_plane_route(self, path: str, route: DataPlaneRoute) -> None:
        self._data_plane[path] = (caller_context(route.endpoint), route.handler)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not self.root_path:
            entry = self._data_plane.get(scope["path"])
            if entry is not None:
                scope["app"] = self  # what Starlette sets: handlers read app.state through the request
                await RequestIdHeaders(_Answer(entry))(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class _Answer:
    """One data-plane request as an ASGI app: authenticate, run the handler, send its response;
    a MeshError is answered as the routed path's exception handler answers it, anything else
    as the opaque 500 the routed path gives (logged, never the trace)."""

    __slots__ = ("_authenticate", "_handler")

    def __init__(self, entry: tuple[Callable[[Request], Awaitable[RequestContext]], Handler]) -> None:
        self._authenticate, self._handler = entry

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            ctx = await self._authenticate(request)
            response = await self._handler(request, ctx)
        except MeshError as error:
            response = await mesh_error_handler(request, error)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = openai_error(InternalError("the mesh failed to handle this request; it has been logged"))
        await response(scope, receive, send)
