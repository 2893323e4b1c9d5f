"""Request headers the cost hook reads (``x-mesh-tags``, ``x-mesh-cache``).

Hooks see the RequestContext, not the HTTP request, so a tiny pure-ASGI
middleware (mounted by llm_mesh.http.costs) puts the raw header list in a
context variable for the duration of the request (streamed bodies included).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

REQUEST_HEADERS: ContextVar[list[tuple[bytes, bytes]] | None] = ContextVar("mesh_request_headers", default=None)


def header(name: bytes) -> str | None:
    for key, value in REQUEST_HEADERS.get() or ():
        if key == name:
            return value.decode("latin-1")
    return None


class HeaderCapture:
    """Pure ASGI middleware: no per-request allocation beyond one ContextVar token."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = REQUEST_HEADERS.set(scope.get("headers") or [])
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_HEADERS.reset(token)
