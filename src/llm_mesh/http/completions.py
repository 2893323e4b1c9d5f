"""``POST /v1/completions``: OpenAI's legacy text completions in front of the same routes.

Each prompt is translated onto the canonical chat request and answered through the
whole pipeline (routing, governance, budgets, cost, audit), like a chat completion.
A list of prompts is answered prompt by prompt; the first prompt is the request the
caller's context records, each further prompt is recorded as a request of its own
(its own request id, same caller). Errors keep OpenAI's error shape.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from llm_mesh.errors import InternalError, MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.service import ChatStream
from llm_mesh.http.body import read_json, validate
from llm_mesh.http.request_scope import caller_context
from llm_mesh.inbound.openai_completions.translate_completions_chat import (
    CompletionsRequest,
    add_usage,
    chunk_bodies,
    completion_body,
    completion_choices,
    new_completion_id,
    parse_completions_request,
    to_chat_body,
    usage_body,
)
from llm_mesh.providers.sse import DONE_FRAME
from llm_mesh.runtime import MeshRuntime
from llm_mesh.wire.openai_chat import ChatCompletionRequest, Usage

logger = logging.getLogger("llm_mesh.http.completions")


def _frame(body: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def _context_for(ctx: RequestContext, position: int) -> RequestContext:
    """The first prompt is the HTTP request's own context; later prompts are requests of their own."""
    if position == 0:
        return ctx
    return RequestContext(endpoint=ctx.endpoint, headers=ctx.headers, caller=ctx.caller)


def mount(app: FastAPI, runtime: MeshRuntime) -> None:
    service = runtime.service
    limit = runtime.config.server.max_body_bytes

    schema = CompletionsRequest.model_json_schema()  # flat: no $defs to re-point
    body_doc = {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    @app.post("/v1/completions", openapi_extra=body_doc)
    async def completions(request: Request, ctx: RequestContext = Depends(caller_context("completions"))) -> Response:
        legacy = parse_completions_request(await read_json(request, limit))
        canonical = [validate(ChatCompletionRequest, to_chat_body(legacy, prompt)) for prompt in legacy.prompts]
        completion_id, created = new_completion_id(), int(time.time())
        if legacy.stream:
            first = await service.open_chat_stream(ctx, canonical[0])  # failures before any byte: a plain HTTP error
            return StreamingResponse(
                _stream(ctx, legacy, canonical, completion_id, first),
                media_type="text/event-stream",
                headers={**ctx.response_headers(), "cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        choices: list[dict[str, Any]] = []
        usage: Usage | None = None
        model, fingerprint = legacy.model, None
        for position, (prompt, chat) in enumerate(zip(legacy.prompts, canonical)):
            completion = await service.chat(_context_for(ctx, position), chat)
            choices.extend(completion_choices(legacy, position, prompt, completion))
            usage = add_usage(usage, completion.usage)
            model, fingerprint = completion.model or model, fingerprint or completion.system_fingerprint
        body = completion_body(completion_id, created, model, choices, usage, fingerprint)
        return JSONResponse(body, headers=ctx.response_headers())

    async def _stream(ctx: RequestContext, legacy: CompletionsRequest, canonical: list[ChatCompletionRequest],
                      completion_id: str, first: ChatStream) -> AsyncIterator[bytes]:
        include_usage = bool(legacy.stream_options and legacy.stream_options.get("include_usage"))
        usage: Usage | None = None
        last: dict[str, Any] = {"created": int(time.time()), "model": legacy.model}
        try:
            for position, (prompt, chat) in enumerate(zip(legacy.prompts, canonical)):
                stream = first if position == 0 else await service.open_chat_stream(_context_for(ctx, position), chat)
                if legacy.echo:
                    for j in range(legacy.n or 1):
                        yield _frame(_with_usage(_echo_chunk(completion_id, last, prompt, position * (legacy.n or 1) + j), include_usage))
                async for chunk in stream.chunks():
                    last = {"created": chunk.created, "model": chunk.model or legacy.model}
                    if chunk.usage is not None and not chunk.choices:
                        usage = add_usage(usage, chunk.usage)
                        continue
                    for body in chunk_bodies(legacy, position, chunk, completion_id):
                        yield _frame(_with_usage(body, include_usage))
            if include_usage:
                yield _frame({"id": completion_id, "object": "text_completion", **last, "choices": [],
                              "usage": usage_body(usage)})
            yield DONE_FRAME
        except MeshError as error:  # the stream already began: end with an error event, never [DONE]
            yield _frame(error.to_body())
        except Exception:
            logger.exception("completions stream failed for %s", ctx.request_id)
            yield _frame(InternalError("the stream failed inside the mesh").to_body())


def _echo_chunk(completion_id: str, last: dict[str, Any], prompt: str, index: int) -> dict[str, Any]:
    return {"id": completion_id, "object": "text_completion", **last,
            "choices": [{"text": prompt, "index": index, "logprobs": None, "finish_reason": None}]}


def _with_usage(body: dict[str, Any], include_usage: bool) -> dict[str, Any]:
    if include_usage:
        body["usage"] = None  # documented: null on every chunk but the last
    return body
