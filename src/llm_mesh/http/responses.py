"""``POST /v1/responses``: OpenAI's Responses API in front of the same routes.

The request is translated to the canonical chat request and goes through the whole
pipeline (resolve, authorise, enrich, screen, admit, call with failover, transform
output, settle, observe), so every provider, policy, budget and the audit trail
apply as they do to chat completions. The answer or stream is translated back into
the Responses API's objects and typed events; errors keep OpenAI's error shape.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from llm_mesh.errors import MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.service import ChatStream
from llm_mesh.http.body import read_json, validate
from llm_mesh.http.request_scope import caller_context
from llm_mesh.inbound.openai_responses.stream_events import response_events
from llm_mesh.inbound.openai_responses.translate_responses_chat import new_response_id, to_chat_request, to_response
from llm_mesh.runtime import MeshRuntime
from llm_mesh.wire.openai_chat import ChatCompletionChunk, ChatCompletionRequest

logger = logging.getLogger("llm_mesh.http.responses")


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    service = runtime.service
    limit = runtime.config.server.max_body_bytes

    @app.post("/v1/responses")
    async def responses(request: Request, ctx: RequestContext = Depends(caller_context("responses"))) -> Response:
        body = await read_json(request, limit)
        chat = to_chat_request(body)
        canonical = validate(ChatCompletionRequest, chat)
        response_id = new_response_id()
        if canonical.stream:
            stream = await service.open_chat_stream(ctx, canonical)
            return StreamingResponse(
                _events(ctx, response_id, body, chat, stream), media_type="text/event-stream",
                headers={**ctx.response_headers(), "cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        completion = await service.chat(ctx, canonical)
        return JSONResponse(to_response(response_id, body, chat, completion), headers=ctx.response_headers())

    async def _events(ctx: RequestContext, response_id: str, body: dict, chat: dict, stream: ChatStream) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[ChatCompletionChunk]:
            async for chunk in stream.chunks():
                yield chunk

        try:
            async for frame in response_events(response_id, body, chat, chunks()):
                yield frame
        except MeshError:
            pass  # the error and response.failed events were sent; the service recorded the failure
        except Exception:
            logger.exception("responses stream failed for %s", ctx.request_id)
