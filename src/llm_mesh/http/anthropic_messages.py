"""``POST /v1/messages``: Anthropic's Messages API in front of the same routes.

The Anthropic request is translated to the canonical request, routed like any
chat completion (so it can reach any provider), and the answer or stream is
translated back. Errors use Anthropic's error shape so the anthropic SDK raises
its usual exceptions. The SDK's ``x-api-key`` header carries the mesh key.

``POST /v1/messages/count_tokens`` answers the mesh's tiktoken count of the canonical
prompt, flagged ``x-mesh-estimate: true`` (no provider is called, so no provider's own
tokenizer counts it). ``GET /v1/models`` with the ``anthropic-version`` header (the
anthropic SDK) answers Anthropic's paged model list: ``anthropic_models`` here, called
by the app's models route.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from llm_mesh.errors import MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.service import ChatStream
from llm_mesh.http.body import read_json
from llm_mesh.http.coalesce import coalesce
from llm_mesh.http.identity import inbound_identity
from llm_mesh.http.request_scope import caller_context
from llm_mesh.inbound.anthropic import (
    anthropic_error_body,
    parse_messages_request,
    stream_anthropic_events,
    to_anthropic_message,
)
from llm_mesh.inbound.anthropic.catalogue import estimate_input_tokens, model_info, models_page
from llm_mesh.runtime import MeshRuntime
from llm_mesh.tokens import count_messages
from llm_mesh.wire.openai_chat import ChatCompletionChunk, StreamOptions, Usage

logger = logging.getLogger("llm_mesh.http.anthropic")


def _error(error: MeshError, ctx: RequestContext) -> JSONResponse:
    headers = {**error.headers, **ctx.response_headers()}
    return JSONResponse(anthropic_error_body(error), status_code=error.status, headers=headers)


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    service = runtime.service
    limit = runtime.config.server.max_body_bytes

    caller = caller_context("messages", allow_x_api_key=True, renderer=_error)  # Anthropic's error shape

    @app.post("/v1/messages")
    async def messages(request: Request, ctx: RequestContext = Depends(caller)) -> Response:
        anthropic_request, canonical = parse_messages_request(await read_json(request, limit))
        if canonical.stream:
            # Anthropic streams always report usage; ask for it upstream too.
            canonical = canonical.model_copy(update={"stream_options": StreamOptions(include_usage=True)})
            stream = await service.open_chat_stream(ctx, canonical)
            prompt_tokens = count_messages(canonical.messages)
            return StreamingResponse(
                coalesce(_events(ctx, stream, anthropic_request.model, prompt_tokens)),
                media_type="text/event-stream",
                headers={**ctx.response_headers(), "cache-control": "no-cache"},
            )
        completion = await service.chat(ctx, canonical)
        return JSONResponse(to_anthropic_message(completion, anthropic_request.model), headers=ctx.response_headers())

    @app.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request, ctx: RequestContext = Depends(caller_context(
            "messages.count_tokens", allow_x_api_key=True, renderer=_error))) -> Response:
        body = await read_json(request, limit)
        if isinstance(body, dict):
            body = {**body, "max_tokens": body.get("max_tokens", 1), "stream": None}
        _, canonical = parse_messages_request(body)
        assert ctx.caller is not None
        ctx.route = service.authorise_route(ctx.caller, canonical.model)
        headers = {**ctx.response_headers(), "x-mesh-estimate": "true"}
        return JSONResponse({"input_tokens": estimate_input_tokens(canonical)}, headers=headers)

    async def _events(ctx: RequestContext, stream: ChatStream, model: str, prompt_tokens: int) -> AsyncIterator[bytes]:
        usage: list[Usage] = []

        async def watched() -> AsyncIterator[ChatCompletionChunk]:
            async for chunk in stream.chunks():
                if chunk.usage is not None:
                    usage.append(chunk.usage)
                yield chunk

        status, failure = 499, None
        try:
            async for frame in stream_anthropic_events(watched(), model, prompt_tokens):
                yield frame
            status = 200
        except MeshError as error:  # the generator already sent Anthropic's error event
            status, failure = error.status, error
        except Exception:
            logger.exception("anthropic stream failed for %s", ctx.request_id)
            status = 500
        finally:
            await service.finish(ctx, status, usage[-1] if usage else None, failure)


def anthropic_models(request: Request, runtime: MeshRuntime, model_id: str | None = None) -> Response:
    """``GET /v1/models[/{id}]`` in Anthropic's shape: the routes this caller may use."""
    service = runtime.service
    ctx = RequestContext(endpoint="models", headers=request.headers)
    try:
        caller = service.authenticate(ctx, inbound_identity(request, runtime.home, allow_x_api_key=True))
        if model_id is not None:
            service.authorise_route(caller, model_id)
            return JSONResponse(model_info(model_id), headers=ctx.response_headers())
        query = request.query_params
        page = models_page(service.models_for(caller), query.get("limit"), query.get("after_id"), query.get("before_id"))
    except MeshError as error:
        return _error(error, ctx)
    return JSONResponse(page, headers=ctx.response_headers())
