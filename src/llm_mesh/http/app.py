"""The FastAPI face of the mesh: OpenAI-compatible endpoints over MeshService.

Handlers stay thin: read and validate the body, call the service, shape the
answer. Every response carries the x-mesh-* headers; every error is OpenAI's
error object with the right status, never a stack trace.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_mesh.errors import InternalError, MeshError, NotFound
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.service import ChatStream
from llm_mesh.http.anthropic_messages import anthropic_models
from llm_mesh.http.body import read_json, validate
from llm_mesh.http.coalesce import coalesce
from llm_mesh.http.data_plane import DataPlaneRoute, MeshAPI
from llm_mesh.http.identity import inbound_identity
from llm_mesh.http.openai_wire import chunk_json, completion_json
from llm_mesh.http.request_id_headers import RequestIdHeaders
from llm_mesh.http.request_scope import caller_context, mesh_error_handler, openai_error
from llm_mesh.providers.sse import DONE_FRAME
from llm_mesh.runtime import MeshRuntime
from llm_mesh.wire.openai_chat import ChatCompletionRequest, Usage
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

logger = logging.getLogger("llm_mesh.http")

JSON_HEADERS = {"content-type": "application/json"}


error_response = openai_error  # the name other routers import


def _json(content: bytes, ctx: RequestContext) -> Response:
    headers = ctx.response_headers()
    return Response(content=content, status_code=200, headers=headers, media_type="application/json")


def create_app(runtime: MeshRuntime) -> FastAPI:
    service = runtime.service
    limit = runtime.config.server.max_body_bytes
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await runtime.aclose()

    app = MeshAPI(
        lifespan=lifespan,
        title="LLM Mesh",
        version="0.1.0",
        description="OpenAI-compatible gateway to every model, governed.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.add_middleware(RequestIdHeaders)

    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(InternalError("the mesh failed to handle this request; it has been logged"))

    async def _http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(NotFound(f"no route for {request.method} {request.url.path}"))
        error = MeshError(str(exc.detail))
        error.status = exc.status_code
        error.type = "invalid_request_error"
        error.code = "method_not_allowed" if exc.status_code == 405 else None
        return error_response(error)

    app.add_exception_handler(Exception, _unhandled)
    app.add_exception_handler(MeshError, mesh_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception)

    # ---------------------------------------------------------------- health
    @app.get("/health")
    async def health() -> JSONResponse:
        reachable = runtime.stores.ping()
        body = {"status": "ok" if reachable else "degraded", "store": "ok" if reachable else "unreachable"}
        return JSONResponse(body, status_code=200 if reachable else 503)

    # ---------------------------------------------------------------- models
    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        if "anthropic-version" in request.headers:  # the anthropic SDK: Anthropic's paged list
            return anthropic_models(request, runtime)
        ctx = RequestContext(endpoint="models")
        try:
            caller = service.authenticate(ctx, inbound_identity(request, runtime.home))
        except MeshError as error:
            return error_response(error, ctx)
        created = int(time.time())
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "llm-mesh"}
            for name in service.models_for(caller)
        ]
        return JSONResponse({"object": "list", "data": data}, headers=ctx.response_headers())

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request) -> Response:
        if "anthropic-version" in request.headers:
            return anthropic_models(request, runtime, model_id)
        ctx = RequestContext(endpoint="models")
        try:
            caller = service.authenticate(ctx, inbound_identity(request, runtime.home))
            service.authorise_route(caller, model_id)
        except MeshError as error:
            return error_response(error, ctx)
        body = {"id": model_id, "object": "model", "created": int(time.time()), "owned_by": "llm-mesh"}
        return JSONResponse(body, headers=ctx.response_headers())

    # ---------------------------------------------------------------- chat
    async def chat_handler(request: Request, ctx: RequestContext) -> Response:
        chat_request = validate(ChatCompletionRequest, await read_json(request, limit))
        if chat_request.stream:
            stream = await service.open_chat_stream(ctx, chat_request)
            return StreamingResponse(
                coalesce(_sse_chat(ctx, stream)),
                media_type="text/event-stream",
                headers={**ctx.response_headers(), "cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        completion = await service.chat(ctx, chat_request)
        return _json(completion_json(completion), ctx)

    @app.post("/v1/chat/completions", openapi_extra=_json_body(ChatCompletionRequest, "/v1/chat/completions"))
    async def chat_completions(request: Request, ctx: RequestContext = Depends(caller_context("chat.completions"))) -> Response:
        return await chat_handler(request, ctx)

    app.data_plane_route("/v1/chat/completions", DataPlaneRoute("chat.completions", chat_handler))

    async def _sse_chat(ctx: RequestContext, stream: ChatStream) -> AsyncIterator[bytes]:
        usage: Usage | None = None
        status, failure = 499, None  # 499: the client went away before the end
        try:
            async for chunk in stream.chunks():
                if chunk.usage is not None and not chunk.choices:
                    usage = chunk.usage
                    if not stream.include_usage:
                        continue
                yield b"data: " + chunk_json(chunk, stream.include_usage) + b"\n\n"
            yield DONE_FRAME
            status = 200
        except MeshError as error:
            # Something already reached the client: end with an explicit error event, never a clean [DONE].
            status, failure = error.status, error
            yield b"data: " + _error_json(error) + b"\n\n"
        except Exception:
            logger.exception("stream failed for %s", ctx.request_id)
            failure = InternalError("the stream failed inside the mesh")
            status = 500
            yield b"data: " + _error_json(failure) + b"\n\n"
        finally:
            # The service records the stream's end itself; this covers a client that left mid-stream
            # before the service's iterator was finalised (record is once per request).
            await service.finish(ctx, status, usage, failure)

    # ---------------------------------------------------------------- embeddings
    async def embeddings_handler(request: Request, ctx: RequestContext) -> Response:
        embeddings_request = validate(EmbeddingsRequest, await read_json(request, limit))
        response = await service.embeddings(ctx, embeddings_request)
        return _json(response.model_dump_json().encode(), ctx)

    @app.post("/v1/embeddings", openapi_extra=_json_body(EmbeddingsRequest, "/v1/embeddings"))
    async def embeddings(request: Request, ctx: RequestContext = Depends(caller_context("embeddings"))) -> Response:
        return await embeddings_handler(request, ctx)

    app.data_plane_route("/v1/embeddings", DataPlaneRoute("embeddings", embeddings_handler))

    for extension in _extensions():
        extension(app, runtime)

    return app


def _json_body(model: Any, path: str) -> dict[str, Any]:
    """OpenAPI requestBody for a handler that reads the raw Request, from its wire model
    (``$defs`` stay inside the schema, referenced by JSON pointer)."""
    pointer = "#/paths/" + path.replace("~", "~0").replace("/", "~1")
    schema = model.model_json_schema(ref_template=pointer + "/post/requestBody/content/application~1json/schema/$defs/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _error_json(error: MeshError) -> bytes:
    return json.dumps(error.to_body(), separators=(",", ":")).encode()


def _extensions() -> list[Any]:
    """``mount(app, runtime)`` functions of further inbound APIs (Anthropic Messages, management API)."""
    from llm_mesh.http.extensions import EXTENSIONS

    mounts = []
    for path in EXTENSIONS:
        module_name, _, attribute = path.partition(":")
        mounts.append(getattr(importlib.import_module(module_name), attribute))
    return mounts
