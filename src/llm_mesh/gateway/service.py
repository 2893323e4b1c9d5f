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
    InternalError,
    MeshError,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamSaturated,
    UpstreamTimeout,
    UpstreamWaking,
)
from llm_mesh.cost.prices import PriceTable, planner_price_lookup
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import Outcome, RequestHook
from llm_mesh.gateway.native_responses import chat_call, stream_call
from llm_mesh.gateway.offload import off_loop
from llm_mesh.gateway.pipeline import Pipeline
from llm_mesh.gateway.replay import replay_as_stream
from llm_mesh.gateway.stages import Stage
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
        pipeline: Pipeline | None = None,
        observer: Callable[[RequestContext, Outcome], None] | None = None,
        blocking_io: bool = False,
        blocking_reads: bool | None = None,
    ) -> None:
        self.config = config
        self.blocking_io = blocking_io  # the stores wait on a network: their calls run off the loop
        self.blocking_reads = blocking_io if blocking_reads is None else blocking_reads  # the key lookup
        self.pipeline = pipeline if pipeline is not None else Pipeline.of(hooks)
        self.observer = observer  # request metrics, whatever hooks exist (gateway.metrics_observer)
        metering = getattr(getattr(config, "costs", None), "metering", None)
        self._max_tags = getattr(metering, "max_tags", 16)
        self._max_tag_length = getattr(metering, "max_tag_length", 128)
        self.authenticator = authenticator
        self.providers = providers
        self.log_writer = log_writer
        self._rng = rng or random.Random()
        self.breaker = CircuitBreaker(health or InMemoryHealthStore())
        self.latency = LatencyTracker()
        self.prices = PriceTable.from_config(config)  # the one price table (settle stage, prompts, agents)
        self.planner = RoutePlanner(config, self.capabilities, self.breaker, self.latency,
                                    price=planner_price_lookup(config, self.prices), rng=self._rng)

    @property
    def hooks(self) -> tuple[RequestHook, ...]:
        return self.pipeline.hooks

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

    async def authenticate_off_loop(self, ctx: RequestContext, identity: InboundIdentity) -> Caller:
        """``authenticate``, with the key lookup off the event loop when the stores' reads block."""
        return await off_loop(self.blocking_reads, self.authenticate, ctx, identity)

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
                if not isinstance(last_error, (ContextLengthExceeded, UpstreamSaturated, UpstreamWaking)):
                    self.breaker.failure(attempt.key, route.circuit_breaker)  # else the upstream is fine (or waking)
                again = retries_left > 0 and not isinstance(last_error, UpstreamWaking)  # waking: minutes, fail over now
                delay = retry_delay(last_error, retry_number, route.retry, self._rng) if again else None
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
    def _apply_tags(self, ctx: RequestContext, metadata: dict[str, str] | None, header: bool = True) -> None:
        """Request tags (x-mesh-tags header, body metadata) for routing conditions, costs and audit.
        Re-applied from the screened metadata after the policy, so the request log, ledger and
        audit keep the redacted values, never the raw ones."""
        header = ctx.headers.get("x-mesh-tags") if header else None
        if header or metadata:
            ctx.tags.update(parse_tags(header, metadata, self._max_tags, self._max_tag_length))

    def _authorise(self, ctx: RequestContext, model: str) -> None:
        """The authorise stage, once per request: after resolve (a prompt reference is now a
        route), before anything reads the route's knowledge base, policy, budget or cache."""
        if ctx.caller is None:
            raise PermissionDenied("the request is not authenticated")
        ctx.route = self.authorise_route(ctx.caller, model)

    async def _before_chat(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> tuple[ChatCompletionRequest, ChatCompletion | None, tuple[RequestHook, ...]]:
        """Resolve, authorise, then enrich/screen/admit/observe. Returns (request, a
        short-circuit answer such as a cache hit, the hooks whose before step ran)."""
        self._apply_tags(ctx, request.metadata)
        try:
            return await self._run_before(ctx, request)
        except BaseException:
            if not ctx.screened_tags:  # refused before the policy screened them: keep no raw metadata
                _drop_tags(ctx, request.metadata)
            raise

    async def _run_before(
        self, ctx: RequestContext, request: ChatCompletionRequest
    ) -> tuple[ChatCompletionRequest, ChatCompletion | None, tuple[RequestHook, ...]]:
        ran: list[RequestHook] = []
        for hook in self.pipeline.resolvers:
            result = await hook.before_chat(ctx, request)
            if isinstance(result, ChatCompletion):
                raise TypeError(f"resolve-stage hook {hook.name!r} answered a request before authorisation")
            request = result
            ran.append(hook)
        self._authorise(ctx, request.model)
        for hook in self.pipeline.governed:
            ctx.screened_tags = ctx.screened_tags or hook.stage > Stage.SCREEN
            result = await hook.before_chat(ctx, request)
            if isinstance(result, ChatCompletion):
                ctx.served_from_cache = True
                return request, result, tuple(ran)
            if result.metadata != request.metadata:  # screened (redacted): the stored tags follow
                _drop_tags(ctx, request.metadata)  # a renamed key leaves no raw one behind
                self._apply_tags(ctx, result.metadata, header=False)
            request = result
            ran.append(hook)
        ctx.screened_tags = True
        return request, None, tuple(ran)

    async def chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletion:
        """Answer a chat request; the request is recorded (ledger, log, audit) whatever happens."""
        try:
            completion = await self._chat(ctx, request)
        except MeshError as error:
            await self.finish(ctx, error.status, error=error)
            raise
        await self.finish(ctx, 200, completion.usage, completion=completion)
        return completion

    async def _chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletion:
        request, answer, ran = await self._before_chat(ctx, request)
        if answer is None:

            async def call(attempt: Attempt) -> ChatCompletion:
                provider = self.providers.get(attempt.provider)
                upstream = request.model_copy(update={"model": attempt.model, "stream": None, "stream_options": None})
                return await chat_call(ctx, provider)(upstream)

            facts = self._facts(ctx, Requirements.of_chat(request), lambda: count_messages(request.messages))
            answer = await self._with_failover(ctx, facts, call)
        for hook in reversed(ran):
            answer = await hook.after_chat(ctx, request, answer)
        return answer

    async def open_chat_stream(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatStream:
        """Open a stream, failing over until a target yields content. The request is recorded
        when the stream ends: completed (200), failed (the error's status) or abandoned by the
        client (499)."""
        try:
            opened = await self._open_chat_stream(ctx, request)
        except MeshError as error:
            await self.finish(ctx, error.status, error=error)
            raise
        return ChatStream(head=[], rest=self._recorded(ctx, opened.rest), include_usage=opened.include_usage)

    async def _recorded(self, ctx: RequestContext, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        usage: Usage | None = None
        status, failure = 499, None  # 499: the client went away before the end
        try:
            async for chunk in chunks:
                if chunk.usage is not None:
                    usage = chunk.usage
                yield chunk
            status = 200
        except MeshError as error:
            status, failure = error.status, error
            raise
        except Exception:
            status, failure = 500, InternalError("the stream failed inside the mesh")
            raise
        finally:
            await self.finish(ctx, status, usage, failure)

    async def _open_chat_stream(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatStream:
        ctx.stream = True
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        request, answer, ran = await self._before_chat(ctx, request)
        if answer is not None:
            stream = ChatStream(head=[], rest=replay_as_stream(answer), include_usage=include_usage)
        else:

            async def call(attempt: Attempt) -> ChatStream:
                provider = self.providers.get(attempt.provider)
                upstream = request.model_copy(update={"model": attempt.model})
                iterator = stream_call(ctx, provider)(upstream).__aiter__()
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
        for hook in reversed(ran):
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
        """Embed; the request is recorded whatever happens."""
        try:
            response = await self._embeddings(ctx, request)
        except MeshError as error:
            await self.finish(ctx, error.status, error=error)
            raise
        usage = Usage(prompt_tokens=response.usage.prompt_tokens, total_tokens=response.usage.total_tokens)
        await self.finish(ctx, 200, usage)
        return response

    async def _embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsResponse:
        self._apply_tags(ctx, None)
        for hook in self.pipeline.resolvers:
            request = await hook.before_embeddings(ctx, request)
        self._authorise(ctx, request.model)
        for hook in self.pipeline.governed:
            request = await hook.before_embeddings(ctx, request)

        async def call(attempt: Attempt) -> EmbeddingsResponse:
            provider = self.providers.get(attempt.provider)
            upstream = request.model_copy(update={"model": attempt.model})
            return await provider.embed(upstream)

        response = await self._with_failover(ctx, self._facts(ctx, Requirements(embeddings=True)), call)
        return apply_encoding(response, request.encoding_format)

    # ------------------------------------------------------------ accounting
    async def finish(self, ctx: RequestContext, status: int, usage: Usage | None = None,
                     error: MeshError | None = None, completion: ChatCompletion | None = None) -> None:
        """``record``, off the event loop when the stores block and a write it makes would wait
        (settlement and ledger writes are table round trips on DynamoDB). Where every record is
        queued for a background writer (the local home), the thread hop would cost more."""
        if ctx.recorded:
            return
        await off_loop(self.blocking_io and self._record_waits(ctx), self.record, ctx, status, usage, error, completion)

    def _record_waits(self, ctx: RequestContext) -> bool:
        if self.config.server.request_log and not getattr(self.log_writer, "deferred", False):
            return True
        return any(getattr(hook, "completion_waits", _waits)(ctx) for hook in self.pipeline.completion_order)

    def record(
        self,
        ctx: RequestContext,
        status: int,
        usage: Usage | None = None,
        error: MeshError | None = None,
        completion: ChatCompletion | None = None,
    ) -> None:
        """The request is over: let every hook account for it, then log it. Exactly once per
        request: the service records what it answered; the HTTP layer's error handler records
        what failed before the service saw it (authentication, a malformed body)."""
        if ctx.recorded:
            return
        ctx.recorded = True
        outcome = Outcome(status=status, usage=usage, error=error, completion=completion, served_from_cache=ctx.served_from_cache)
        for hook in self.pipeline.completion_order:  # settle, then observe
            try:
                hook.on_complete(ctx, outcome)
            except Exception:
                logger.exception("hook %s failed to account for %s", getattr(hook, "name", hook), ctx.request_id)
        if self.observer is not None:
            self.observer(ctx, outcome)
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


def _drop_tags(ctx: RequestContext, metadata: dict[str, str] | None) -> None:
    """Forget the tags that came from ``metadata`` (not a header tag that overrode one)."""
    for key, value in (metadata or {}).items():
        if ctx.tags.get(key) == value:
            del ctx.tags[key]


def _waits(ctx: RequestContext) -> bool:
    """A hook that does not say whether its on_complete waits is assumed to."""
    return True
