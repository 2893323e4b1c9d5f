"""The gateway's use cases, free of any web framework.

Authenticate, authorise the route, plan targets, call providers with failover,
account for time and tokens, and log the request. Inbound adapters (FastAPI for
OpenAI and Anthropic shapes, Lambda) call these methods.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, Sequence, TypeVar

from llm_mesh.config.schema import MeshConfig
from llm_mesh.errors import (
    ContextLengthExceeded,
    MeshError,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from llm_mesh.cost.prices import planner_price_lookup
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import Outcome, RequestHook
from llm_mesh.gateway.replay import replay_as_stream
from llm_mesh.gateway.tags import parse_tags
from llm_mesh.gateway.provider_pool import ProviderPool
from llm_mesh.gateway.request_log import RequestLogWriter
from llm_mesh.identity import Authenticator, Caller, InboundIdentity
from llm_mesh.providers.base import Capabilities
from llm_mesh.routing.circuit import CircuitBreaker
from llm_mesh.routing.latency import LatencyTracker
from llm_mesh.routing.memory_health import InMemoryHealthStore
from llm_mesh.routing.planner import Attempt, RequestFacts, RoutePlanner
from llm_mesh.routing.requirements import Requirements
from llm_mesh.routing.retry import retry_delay
from llm_mesh.stores.interfaces import TargetHealthStore
from llm_mesh.tokens import count_messages
from llm_mesh.stores.interfaces import RequestLogEntry
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse, apply_encoding

T = TypeVar("T")

logger = logging.getLogger("llm_mesh.gateway")


def _retryable(error: MeshError) -> bool:
    """Errors worth another target: upstream faults and upstream rate limits."""
    return isinstance(error, (UpstreamError, RateLimited, ContextLengthExceeded))


def _visible(chunk: ChatCompletionChunk) -> bool:
    if chunk.usage is not None and not chunk.choices:
        return True
    for choice in chunk.choices:
        delta = choice.delta
        if delta.content or delta.tool_calls or delta.refusal or choice.finish_reason:
            return True
    return False


@dataclass
class ChatStream:
    """An opened stream: the first chunk already arrived, so the route is known."""

    head: list[ChatCompletionChunk]  # held back until one carried content, so failover stayed possible
    rest: AsyncIterator[ChatCompletionChunk]
    include_usage: bool

    async def chunks(self) -> AsyncIterator[ChatCompletionChunk]:
        for chunk in self.head:
            yield chunk
        async for chunk in self.rest:
            yield chunk


class MeshService:
    def __init__(
        self,
        config: MeshConfig,
        authenticator: Authenticator,
        providers: ProviderPool,
        log_writer: RequestLogWriter,
        health: TargetHealthStore | None = None,
        rng: random.Random | None = None,
        hooks: Sequence[RequestHook] = (),
    ) -> None:
        self.config = config
        self.hooks = tuple(hooks)
        metering = getattr(getattr(config, "costs", None), "metering", None)
        self._max_tags = getattr(metering, "max_tags", 16)
        self._max_tag_length = getattr(metering, "max_tag_length", 128)
        self.authenticator = authenticator
        self.providers = providers
        self.log_writer = log_writer
        self._rng = rng or random.Random()
        self.breaker = CircuitBreaker(health or InMemoryHealthStore())
        self.latency = LatencyTracker()
        self.planner = RoutePlanner(config, self.capabilities, self.breaker, self.latency, price=planner_price_lookup(config), rng=self._rng)

    def capabilities(self, provider: str, model: str) -> Capabilities:
        try:
            return self.providers.get(provider).capabilities(model)
        except MeshError:
            # Unavailable providers stay in the plan for chat and embeddings alike: each is
            # one attempt that fails with a clear 503 naming the missing credential.
            return Capabilities(embeddings=True)

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
    def _facts(self, ctx: RequestContext, needs: Requirements, prompt_tokens: Callable[[], int] | None = None) -> RequestFacts:
        return RequestFacts(
            app=ctx.caller.app if ctx.caller else "",
            tags=ctx.tags,
            classifications=frozenset(ctx.classifications),
            streaming=ctx.stream,
            needs=needs,
            prompt_tokens=prompt_tokens,
            allowed_target=ctx.target_filter,
        )

    async def _with_failover(
        self, ctx: RequestContext, facts: RequestFacts, call: Callable[[Attempt], Awaitable[T]]
    ) -> T:
        route = self.config.routes[ctx.route]
        attempts = self.planner.plan(ctx.route, facts)
        last_error: MeshError | None = None
        for attempt in attempts:
            retries_left = route.retry.attempts
            retry_number = 0
            while True:
                ctx.attempts += 1
                ctx.provider, ctx.model = attempt.provider, attempt.model
                started = time.perf_counter()
                try:
                    if attempt.timeout is not None:
                        result = await asyncio.wait_for(call(attempt), attempt.timeout)
                    else:
                        result = await call(attempt)
                except asyncio.TimeoutError:
                    last_error = UpstreamTimeout(f"provider {attempt.provider} exceeded the target timeout")
                except MeshError as error:
                    self.providers.scrubber.clean(error)
                    if not _retryable(error):
                        raise
                    last_error = error
                except Exception:
                    # A provider adapter failed on something the upstream sent: a gateway fault
                    # (502, may fail over), never a 500; logged for the adapter's owner.
                    logger.exception("provider %s failed unexpectedly", attempt.provider)
                    last_error = UpstreamError(f"provider {attempt.provider} returned a response the mesh could not read")
                else:
                    elapsed = time.perf_counter() - started
                    ctx.upstream_seconds += elapsed
                    self.breaker.success(attempt.key)
                    first_token = (ctx.first_token_at - started) * 1000 if ctx.first_token_at else None
                    self.latency.observe(attempt.key, elapsed * 1000, first_token)
                    return result
                ctx.upstream_seconds += time.perf_counter() - started
                if not isinstance(last_error, ContextLengthExceeded):
                    self.breaker.failure(attempt.key, route.circuit_breaker)
                delay = retry_delay(last_error, retry_number, route.retry, self._rng) if retries_left > 0 else None
                if delay is None:
                    break
                retries_left -= 1
                retry_number += 1
                waited = time.perf_counter()
                await asyncio.sleep(delay)
                ctx.upstream_seconds += time.perf_counter() - waited  # waiting on the upstream's terms
            ctx.fallback_reason = f"{attempt.provider}:{last_error.code or last_error.type}"
        assert last_error is not None  # plan() never returns an empty list
        raise last_error

    # ------------------------------------------------------------ chat
    def _apply_tags(self, ctx: RequestContext, metadata: dict[str, str] | None) -> None:
        """Request tags (x-mesh-tags header, body metadata) for routing conditions, costs and audit."""
        header = ctx.headers.get("x-mesh-tags")
        if header or metadata:
            ctx.tags.update(parse_tags(header, metadata, self._max_tags, self._max_tag_length))

    async def _before_chat(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> tuple[ChatCompletionRequest, ChatCompletion | None, int]:
        """Run before-hooks; returns (request, short-circuit answer, number of hooks that ran)."""
        self._apply_tags(ctx, request.metadata)
        for index, hook in enumerate(self.hooks):
            result = await hook.before_chat(ctx, request)
            if isinstance(result, ChatCompletion):
                ctx.served_from_cache = True
                return request, result, index
            request = result
        return request, None, len(self.hooks)

    async def chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletion:
        request, answer, ran = await self._before_chat(ctx, request)
        if answer is None:
            self.authorise_route(ctx.caller, request.model)  # type: ignore[arg-type]
            ctx.route = request.model

            async def call(attempt: Attempt) -> ChatCompletion:
                provider = self.providers.get(attempt.provider)
                upstream = request.model_copy(update={"model": attempt.model, "stream": None, "stream_options": None})
                return await provider.chat(upstream)

            facts = self._facts(ctx, Requirements.of_chat(request), lambda: count_messages(request.messages))
            answer = await self._with_failover(ctx, facts, call)
        for hook in reversed(self.hooks[:ran]):
            answer = await hook.after_chat(ctx, request, answer)
        return answer

    async def open_chat_stream(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatStream:
        """Open a stream, failing over until a target yields content."""
        ctx.stream = True
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        request, answer, ran = await self._before_chat(ctx, request)
        if answer is not None:
            stream = ChatStream(head=[], rest=replay_as_stream(answer), include_usage=include_usage)
        else:
            self.authorise_route(ctx.caller, request.model)  # type: ignore[arg-type]
            ctx.route = request.model

            async def call(attempt: Attempt) -> ChatStream:
                provider = self.providers.get(attempt.provider)
                upstream = request.model_copy(update={"model": attempt.model})
                iterator = provider.chat_stream(upstream).__aiter__()
                head: list[ChatCompletionChunk] = []
                # Hold back chunks that carry nothing visible (the role chunk): a failure
                # before real content still lets the next target answer the client.
                while True:
                    try:
                        chunk = await iterator.__anext__()
                    except StopAsyncIteration:
                        raise UpstreamError(
                            f"provider {attempt.provider} ended the stream before any content", code="stream_cut"
                        ) from None
                    head.append(chunk)
                    if _visible(chunk) or len(head) >= 8:
                        break
                ctx.first_token_at = time.perf_counter()
                return ChatStream(head=head, rest=self._timed(ctx, iterator), include_usage=include_usage)

            facts = self._facts(ctx, Requirements.of_chat(request), lambda: count_messages(request.messages))
            stream = await self._with_failover(ctx, facts, call)
        wrapped = stream.chunks()
        for hook in reversed(self.hooks[:ran]):
            wrapped = hook.wrap_stream(ctx, request, wrapped)
        return ChatStream(head=[], rest=wrapped, include_usage=include_usage)

    async def _timed(self, ctx: RequestContext, iterator: AsyncIterator[T]) -> AsyncIterator[T]:
        """Count time spent waiting on the upstream as upstream time."""
        while True:
            started = time.perf_counter()
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                ctx.upstream_seconds += time.perf_counter() - started
                return
            except MeshError as error:
                ctx.upstream_seconds += time.perf_counter() - started
                raise self.providers.scrubber.clean(error)
            except (asyncio.CancelledError, GeneratorExit):
                ctx.upstream_seconds += time.perf_counter() - started
                raise
            except Exception:
                ctx.upstream_seconds += time.perf_counter() - started
                logger.exception("provider %s stream failed unexpectedly", ctx.provider)
                raise UpstreamError(f"provider {ctx.provider} sent a stream the mesh could not read") from None
            except BaseException:
                ctx.upstream_seconds += time.perf_counter() - started
                raise
            ctx.upstream_seconds += time.perf_counter() - started
            yield item

    # ------------------------------------------------------------ embeddings
    async def embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsResponse:
        self._apply_tags(ctx, None)
        for hook in self.hooks:
            request = await hook.before_embeddings(ctx, request)
        self.authorise_route(ctx.caller, request.model)  # type: ignore[arg-type]
        ctx.route = request.model

        async def call(attempt: Attempt) -> EmbeddingsResponse:
            provider = self.providers.get(attempt.provider)
            upstream = request.model_copy(update={"model": attempt.model})
            return await provider.embed(upstream)

        response = await self._with_failover(ctx, self._facts(ctx, Requirements(embeddings=True)), call)
        return apply_encoding(response, request.encoding_format)

    # ------------------------------------------------------------ accounting
    def record(
        self,
        ctx: RequestContext,
        status: int,
        usage: Usage | None = None,
        error: MeshError | None = None,
        completion: ChatCompletion | None = None,
    ) -> None:
        """The request is over: let every hook account for it, then log it."""
        outcome = Outcome(status=status, usage=usage, error=error, completion=completion, served_from_cache=ctx.served_from_cache)
        for hook in self.hooks:
            try:
                hook.on_complete(ctx, outcome)
            except Exception:
                logger.exception("hook %s failed to account for %s", getattr(hook, "name", hook), ctx.request_id)
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
