"""The gateway's use cases, free of any web framework.

Authenticate, authorise the route, plan targets, call providers with failover,
account for time and tokens, and log the request. Inbound adapters (FastAPI for
OpenAI and Anthropic shapes, Lambda) call these methods.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, TypeVar

from llm_mesh.config.schema import MeshConfig
from llm_mesh.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    MeshError,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.provider_pool import ProviderPool
from llm_mesh.gateway.request_log import RequestLogWriter
from llm_mesh.identity import Authenticator, Caller, InboundIdentity
from llm_mesh.routing.planner import Attempt, RoutePlanner
from llm_mesh.stores.interfaces import RequestLogEntry
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse, apply_encoding

T = TypeVar("T")


def _retryable(error: MeshError) -> bool:
    """Errors worth another target: upstream faults and upstream rate limits."""
    return isinstance(error, (UpstreamError, RateLimited, ContextLengthExceeded))


@dataclass
class ChatStream:
    """An opened stream: the first chunk already arrived, so the route is known."""

    first: ChatCompletionChunk
    rest: AsyncIterator[ChatCompletionChunk]
    include_usage: bool


class MeshService:
    def __init__(
        self,
        config: MeshConfig,
        authenticator: Authenticator,
        providers: ProviderPool,
        log_writer: RequestLogWriter,
        planner: RoutePlanner | None = None,
    ) -> None:
        self.config = config
        self.authenticator = authenticator
        self.providers = providers
        self.log_writer = log_writer
        self.planner = planner or RoutePlanner(config)

    # ------------------------------------------------------------ access
    def authenticate(self, ctx: RequestContext, identity: InboundIdentity) -> Caller:
        ctx.caller = self.authenticator.authenticate(identity)
        return ctx.caller

    def authorise_route(self, caller: Caller, model: str) -> str:
        if model not in self.config.routes:
            raise ModelNotFound(f"the model {model!r} does not exist or you do not have access to it", param="model")
        app = self.config.apps.get(caller.app)
        if app is None or not app.may_use(model):
            raise PermissionDenied(f"app {caller.app!r} may not use the model {model!r}", param="model")
        return model

    def models_for(self, caller: Caller) -> list[str]:
        app = self.config.apps.get(caller.app)
        if app is None:
            return []
        return [name for name in self.config.routes if app.may_use(name)]

    # ------------------------------------------------------------ failover core
    async def _with_failover(
        self, ctx: RequestContext, call: Callable[[Attempt], Awaitable[T]]
    ) -> T:
        attempts = self.planner.plan(ctx.route)
        last_error: MeshError | None = None
        for attempt in attempts:
            ctx.attempts += 1
            ctx.provider, ctx.model = attempt.provider, attempt.model
            started = time.perf_counter()
            try:
                if attempt.timeout is not None:
                    result = await asyncio.wait_for(call(attempt), attempt.timeout)
                else:
                    result = await call(attempt)
                return result
            except asyncio.TimeoutError:
                last_error = UpstreamTimeout(f"provider {attempt.provider} exceeded the target timeout")
            except MeshError as error:
                if not _retryable(error):
                    raise
                last_error = error
            finally:
                ctx.upstream_seconds += time.perf_counter() - started
            ctx.fallback_reason = f"{attempt.provider}:{last_error.code or last_error.type}"
        assert last_error is not None  # plan() never returns an empty list for a valid route
        raise last_error

    # ------------------------------------------------------------ chat
    async def chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletion:
        ctx.route = request.model

        async def call(attempt: Attempt) -> ChatCompletion:
            provider = self.providers.get(attempt.provider)
            upstream = request.model_copy(update={"model": attempt.model, "stream": None, "stream_options": None})
            return await provider.chat(upstream)

        return await self._with_failover(ctx, call)

    async def open_chat_stream(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatStream:
        """Open a stream, failing over until a target yields its first chunk."""
        ctx.route = request.model
        ctx.stream = True
        include_usage = bool(request.stream_options and request.stream_options.include_usage)

        async def call(attempt: Attempt) -> ChatStream:
            provider = self.providers.get(attempt.provider)
            upstream = request.model_copy(update={"model": attempt.model})
            iterator = provider.chat_stream(upstream).__aiter__()
            try:
                first = await iterator.__anext__()
            except StopAsyncIteration:
                raise UpstreamError(f"provider {attempt.provider} sent an empty stream", code="stream_cut") from None
            ctx.first_token_at = time.perf_counter()
            return ChatStream(first=first, rest=self._timed(ctx, iterator), include_usage=include_usage)

        return await self._with_failover(ctx, call)

    async def _timed(self, ctx: RequestContext, iterator: AsyncIterator[T]) -> AsyncIterator[T]:
        """Count time spent waiting on the upstream as upstream time."""
        while True:
            started = time.perf_counter()
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                ctx.upstream_seconds += time.perf_counter() - started
                return
            except BaseException:
                ctx.upstream_seconds += time.perf_counter() - started
                raise
            ctx.upstream_seconds += time.perf_counter() - started
            yield item

    # ------------------------------------------------------------ embeddings
    async def embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsResponse:
        ctx.route = request.model

        async def call(attempt: Attempt) -> EmbeddingsResponse:
            provider = self.providers.get(attempt.provider)
            if not provider.capabilities(attempt.model).embeddings:
                raise InvalidRequest(f"the model {request.model!r} does not serve embeddings", param="model")
            upstream = request.model_copy(update={"model": attempt.model})
            return await provider.embed(upstream)

        response = await self._with_failover(ctx, call)
        return apply_encoding(response, request.encoding_format)

    # ------------------------------------------------------------ accounting
    def record(self, ctx: RequestContext, status: int, usage: Usage | None = None, error: MeshError | None = None) -> None:
        if not self.config.server.request_log:
            return
        caller = ctx.caller
        elapsed = ctx.elapsed_ms()
        upstream_ms = ctx.upstream_seconds * 1000.0
        self.log_writer.write(
            RequestLogEntry(
                request_id=ctx.request_id,
                timestamp=ctx.received_at,
                app=caller.app if caller else "-",
                route=ctx.route or "-",
                provider=ctx.provider or "-",
                model=ctx.model or "-",
                endpoint=ctx.endpoint,
                status=status,
                stream=ctx.stream,
                latency_ms=round(elapsed, 3),
                upstream_ms=round(upstream_ms, 3),
                overhead_ms=round(max(0.0, elapsed - upstream_ms), 3),
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
                error_code=(error.code or error.type) if error else None,
                attempts=max(ctx.attempts, 1) if ctx.attempts else 0,
                time_to_first_token_ms=(round(ttft, 3) if (ttft := ctx.time_to_first_token_ms()) is not None else None),
                tags=dict(ctx.tags),
            )
        )
