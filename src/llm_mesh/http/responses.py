"""``/v1/responses``: OpenAI's Responses API in front of the same routes.

``POST`` is translated to the canonical chat request and goes through the whole
pipeline (resolve, authorise, enrich, screen, admit, call with failover, transform
output, settle, observe), so every provider, policy, budget and the audit trail
apply as they do to chat completions. The answer or stream is translated back into
the Responses API's objects and typed events; errors keep OpenAI's error shape.

Conversation state (``llm_mesh.inbound.openai_responses.state``): ``store`` (default
true) keeps the response for its app, ``previous_response_id`` continues from one, and
``GET /v1/responses/{id}``, ``GET /v1/responses/{id}/input_items`` and ``DELETE
/v1/responses/{id}`` read and remove them. Another app's id is a 404 like an unknown one.
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from llm_mesh.errors import InvalidRequest, MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.service import ChatStream
from llm_mesh.http.body import read_json, validate
from llm_mesh.http.request_scope import caller_context
from llm_mesh.inbound.openai_responses.capture import Capture, find_capture_hook
from llm_mesh.inbound.openai_responses.items import check_id, list_page
from llm_mesh.inbound.openai_responses.passthrough import native_settings
from llm_mesh.inbound.openai_responses.state import ConversationState, app_of, not_found, response_store_for
from llm_mesh.inbound.openai_responses.stream_events import response_events
from llm_mesh.inbound.openai_responses.translate_responses_chat import new_response_id, to_chat_request, to_response
from llm_mesh.runtime import MeshRuntime
from llm_mesh.wire.openai_chat import ChatCompletionChunk, ChatCompletionRequest

logger = logging.getLogger("llm_mesh.http.responses")


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    service = runtime.service
    limit = runtime.config.server.max_body_bytes
    state = ConversationState(response_store_for(runtime.stores), find_capture_hook(service))

    @app.post("/v1/responses")
    async def responses(request: Request, ctx: RequestContext = Depends(caller_context("responses"))) -> Response:
        body = await read_json(request, limit)
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object", param="body")
        store, history = state.wants_store(body), state.history(ctx, body)
        chat = to_chat_request(body, history)
        canonical = validate(ChatCompletionRequest, chat)
        ctx.responses_settings = native_settings(body)
        response_id = new_response_id()
        capture = state.watch(ctx, store)
        try:
            if canonical.stream:
                stream = await service.open_chat_stream(ctx, canonical)
                return StreamingResponse(
                    _events(ctx, response_id, body, chat, stream, (history, capture)), media_type="text/event-stream",
                    headers={**ctx.response_headers(), "cache-control": "no-cache", "x-accel-buffering": "no"},
                )
            completion = await service.chat(ctx, canonical)
        except BaseException:
            state.abandon(ctx)
            raise
        answer = to_response(response_id, body, chat, completion)
        kept = state.remember(ctx, body, history, capture, answer)
        headers = {**ctx.response_headers(), **({} if kept or not store else {"x-mesh-response-stored": "false"})}
        return JSONResponse(answer, headers=headers)

    async def _events(ctx: RequestContext, response_id: str, body: dict, chat: dict, stream: ChatStream,
                      kept: tuple[list[dict[str, Any]] | None, Capture | None]) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[ChatCompletionChunk]:
            async for chunk in stream.chunks():
                yield chunk

        def completed(final: dict[str, Any]) -> None:
            state.remember(ctx, body, kept[0], kept[1], final)

        try:
            async for frame in response_events(response_id, body, chat, chunks(), on_completed=completed):
                yield frame
        except MeshError:
            pass  # the error and response.failed events were sent; the service recorded the failure
        except Exception:
            logger.exception("responses stream failed for %s", ctx.request_id)
        finally:
            state.abandon(ctx)

    _mount_stored(app, state)


def _mount_stored(app: FastAPI, state: ConversationState) -> None:
    """Retrieve, list the input items of, and delete stored responses (the caller's app's only)."""

    @app.get("/v1/responses/{response_id}")
    async def retrieve(response_id: str, ctx: RequestContext = Depends(caller_context("responses.retrieve"))) -> Response:
        found = state.store.get(app_of(ctx), check_id(response_id, "response_id"), time.time())
        if found is None:
            raise not_found(response_id)
        return JSONResponse(found, headers=ctx.response_headers())

    @app.get("/v1/responses/{response_id}/input_items")
    async def input_items(response_id: str, request: Request,
                          ctx: RequestContext = Depends(caller_context("responses.input_items"))) -> Response:
        order, size, after = _page_params(request)
        items = state.store.input_items(app_of(ctx), check_id(response_id, "response_id"), time.time())
        if items is None:
            raise not_found(response_id)
        return JSONResponse(list_page(items, order=order, limit=size, after=after), headers=ctx.response_headers())

    @app.delete("/v1/responses/{response_id}")
    async def delete(response_id: str, ctx: RequestContext = Depends(caller_context("responses.delete"))) -> Response:
        if not state.store.delete(app_of(ctx), check_id(response_id, "response_id")):
            raise not_found(response_id)
        return JSONResponse({"id": response_id, "object": "response", "deleted": True}, headers=ctx.response_headers())


def _page_params(request: Request) -> tuple[str, int, str | None]:
    query = request.query_params
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'", param="order")
    raw = query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise InvalidRequest("limit must be an integer between 1 and 100", param="limit")
    return order, int(raw), query.get("after")
