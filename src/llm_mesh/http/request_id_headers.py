"""The mesh request id under the name each API's SDK reads: ``x-request-id`` on
OpenAI-API answers (the openai SDK's ``_request_id``), ``request-id`` on Anthropic-API
answers (``/v1/messages...`` and any request carrying ``anthropic-version``; the anthropic
SDK's ``_request_id``). A pure ASGI middleware, so streamed answers pass untouched."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

MESH_HEADER = b"x-mesh-request-id"


def _is_anthropic(scope: Scope) -> bool:
    if str(scope.get("path", "")).startswith("/v1/messages"):
        return True
    return any(name.lower() == b"anthropic-version" for name, _ in scope.get("headers", ()))


class RequestIdHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = b"request-id" if _is_anthropic(scope) else b"x-request-id"

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or ())
                mesh_id = next((value for key, value in headers if key.lower() == MESH_HEADER), None)
                if mesh_id is not None and not any(key.lower() == name for key, _ in headers):
                    message = {**message, "headers": [*headers, (name, mesh_id)]}
            await send(message)

        await self.app(scope, receive, sending)
