"""The cost hook: tags, response cache, rate limits, budgets, ledger and metrics on
the request path (one hook in the pipeline's cache slot, after policy, so the cache
is keyed on the redacted request and reservations are made on the final request).

before_chat: parse tags -> exact/semantic cache lookup (a hit answers the request)
-> rate limits -> budget reservation of the worst case.
after_chat / wrap_stream: store cacheable answers; collect streamed text for metering.
on_complete: meter (provider usage, else an estimate flagged ``estimated``), price,
settle budgets and token counters, write the ledger record, set ``x-mesh-cost-usd``
(absent on streams: the headers left before the cost was known; the ledger has it),
emit metrics.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

from llm_mesh.cost import metering
from llm_mesh.cost.budgets import BudgetGuard, Hold, to_nano
from llm_mesh.cost.cache import (
    best_match, cacheable_answer, exact_key, hashing_embedding, normalise, pack, prompt_text, semantic_partition,
)
from llm_mesh.cost.config import CostConfig, RouteCacheConfig
from llm_mesh.cost.metrics import MetricsSink, NullMetricsSink, RequestMetrics
from llm_mesh.cost.prices import CostBreakdown, Metered, PriceTable, quantize
from llm_mesh.cost.ratelimit import RateLimiter, TokenHold
from llm_mesh.cost.request_bound import chat_input_bound, embeddings_input_bound
from llm_mesh.errors import InvalidRequest, MeshError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import BaseHook, Outcome
from llm_mesh.gateway.stages import Stage
from llm_mesh.stores.interfaces import CostRecord
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest
from llm_mesh.gateway.metrics_observer import note_dropped_write
from llm_mesh.gateway.offload import blocking_io, off_loop

logger = logging.getLogger("llm_mesh.cost")

Embedder = Callable[[RequestContext, str, str], Awaitable[list[float]]]  # (ctx, embedding route, text)


@dataclass
class _State:
    request: ChatCompletionRequest | None = None
    texts: list[str] | None = None  # embeddings input, for estimates
    holds: list[Hold] = field(default_factory=list)
    token_holds: list[TokenHold] = field(default_factory=list)
    cache_key: str | None = None
    semantic: tuple[str, list[float], int] | None = None  # (partition, vector, ttl)
    cache_ttl: int = 0
    cached_from: dict[str, Any] | None = None  # provider/kind/model/usage of a cache hit
    stream_text: list[str] = field(default_factory=list)
    stream_usage: Any = None
    stream_finish: str | None = None
    settled: bool = False


def _state(ctx: RequestContext) -> _State:
    state = ctx.admission
    if state is None:
        state = ctx.admission = _State()
    return state


class CostHook(BaseHook):
    name = "costs"
    stage = Stage.ADMIT  # after screening: the cache is keyed on, and budgets reserve for, the redacted request
    completes = Stage.SETTLE

    def __init__(self, config: Any, stores: Any, metrics: MetricsSink | None = None,
                 embedder: Embedder | None = None, clock: Callable[[], float] = time.time) -> None:
        self.mesh = config
        self.costs: CostConfig = config.costs
        self.prices = PriceTable.from_config(config)
        self.metrics = metrics or NullMetricsSink()
        self.embedder = embedder
        self.clock = clock
        self.ledger = getattr(stores, "ledger", None) if self.costs.ledger else None
        budget_store = getattr(stores, "budgets", None)
        self.budgets = BudgetGuard(self.costs.budgets, budget_store, self._budget_alert) if self.costs.budgets and budget_store else None
        limit_store = getattr(stores, "ratelimits", None)
        self.limits = RateLimiter(self.costs.limits, limit_store) if self.costs.limits and limit_store else None
        cache = self.costs.cache
        self.cache_store = getattr(stores, "cache", None) if cache is not None and cache.enabled else None
        self.blocking_io = blocking_io(stores)  # table round trips: admission and cache calls run off the loop
        self.margin = Decimal(self.costs.metering.input_margin)
        self._worst_prices: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for name, missing in (("budgets", self.costs.budgets and not budget_store),
                              ("limits", self.costs.limits and not limit_store),
                              ("cache", cache is not None and cache.enabled and self.cache_store is None)):
            if missing:
                logger.warning("costs.%s is configured but the store has no table for it; disabled", name)

    # ------------------------------------------------------------ helpers
    def _kind(self, provider: str) -> str:
        config = self.mesh.providers.get(provider)
        return config.kind if config is not None else provider

    def _targets(self, route: str, seen: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
        config = self.mesh.routes.get(route)
        if config is None or route in seen:
            return []
        found: list[tuple[str, str]] = []
        for target in config.targets:
            if target.route is not None:
                found.extend(self._targets(target.route, seen | {route}))
            else:
                found.append((target.provider or "", target.model or ""))
        return found

    def _route_prices(self, route: str, now: float) -> tuple[Decimal, Decimal]:
        """(input, output) USD per million of the route's dearest target (unknown prices: 0)."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        key = (route, day)
        if key not in self._worst_prices:
            worst_in = worst_out = Decimal(0)
            for provider, model in self._targets(route):
                unit = self.prices.unit_prices(provider, self._kind(provider), model, now)
                if unit is not None:
                    worst_in = max(worst_in, unit.input, unit.embeddings)
                    worst_out = max(worst_out, unit.output)
            if len(self._worst_prices) > 4096:
                self._worst_prices.clear()
            self._worst_prices[key] = (worst_in, worst_out)
        return self._worst_prices[key]

    def _max_output(self, route: str, request: ChatCompletionRequest) -> int:
        given = request.output_token_limit
        if given:
            return given * (request.n or 1)
        registered = [entry.capabilities.max_output_tokens for provider, model in self._targets(route)
                      if (entry := self.mesh.model_entry(provider, model)) is not None and entry.capabilities.max_output_tokens]
        return (max(registered) if registered else self.costs.metering.default_max_output_tokens) * (request.n or 1)

    def _team(self, app: str) -> tuple[str | None, str | None]:
        info = self.costs.apps.get(app)
        return (info.team, info.project) if info is not None else (None, None)

    def _budget_claim(self, ctx: RequestContext, route: str, prompt_tokens: int, max_output: int,
                      now: float) -> tuple[str, str | None, Mapping[str, str], int]:
        """(app, team, tags, worst-case nano USD) this request reserves against its budgets."""
        app = ctx.caller.app if ctx.caller else "-"
        price_in, price_out = self._route_prices(route, now)
        worst = (Decimal(prompt_tokens) * self.margin * price_in + Decimal(max_output) * price_out) / 1_000_000
        team, project = self._team(app)
        # The app's configured project is authoritative: a client cannot move its spend to
        # another project's budget by sending a different project tag.
        tags = {**ctx.tags, "project": project} if project else ctx.tags
        return app, team, tags, to_nano(worst) + 1

    def _admit_from_memory(self, ctx: RequestContext, state: _State, route: str, prompt_tokens: int,
                           max_output: int) -> bool:
        """Admission with no store call (budgets only, each within this process's lease)."""
        if self.limits is not None or self.budgets is None:
            return False
        now = self.clock()
        holds = self.budgets.reserve_from_leases(*self._budget_claim(ctx, route, prompt_tokens, max_output, now), now)
        if holds is None:
            return False
        state.holds = holds
        return True

    def _admit(self, ctx: RequestContext, state: _State, route: str, prompt_tokens: int, max_output: int) -> None:
        app = ctx.caller.app if ctx.caller else "-"
        now = self.clock()
        if self.limits is not None:
            state.token_holds = self.limits.admit(app, route, prompt_tokens + max_output, now)
        if self.budgets is not None:
            try:
                state.holds = self.budgets.reserve(*self._budget_claim(ctx, route, prompt_tokens, max_output, now), now)
            except BaseException:
                if self.limits is not None:
                    self.limits.release(state.token_holds)
                    state.token_holds = []
                raise

    # ------------------------------------------------------------ cache
    def _route_cache(self, route: str) -> RouteCacheConfig | None:
        cache = self.costs.cache
        if cache is None or self.cache_store is None:
            return None
        settings = cache.routes.get(route, cache.default)
        return None if settings.mode == "off" else settings

    def _lookup_decision(self, ctx: RequestContext, request: ChatCompletionRequest) -> RouteCacheConfig | None:
        settings = self._route_cache(request.model)
        if settings is None:
            return None
        asked = (ctx.headers.get("x-mesh-cache") or "").strip().lower()
        if asked not in ("", "force", "off"):
            raise InvalidRequest("x-mesh-cache must be 'force' or 'off'", param="x-mesh-cache")
        app_config = self.mesh.apps.get(ctx.caller.app) if ctx.caller else None
        if asked == "off" or app_config is None or not app_config.may_use(request.model):
            ctx.extra_headers["x-mesh-cache"] = "bypass"
            return None
        greedy = request.temperature == 0
        if not (greedy or settings.temperature_any or asked == "force"):
            ctx.extra_headers["x-mesh-cache"] = "bypass"
            return None
        return settings

    async def _cache_lookup(self, ctx: RequestContext, state: _State, request: ChatCompletionRequest) -> ChatCompletion | None:
        settings = self._lookup_decision(ctx, request)
        if settings is None:
            return None
        app = ctx.caller.app  # type: ignore[union-attr]
        now = self.clock()
        state.cache_ttl = settings.ttl_seconds or self.costs.cache.ttl_seconds  # type: ignore[union-attr]
        state.cache_key = exact_key(app, request)
        stored, kind = await off_loop(self.blocking_io, self.cache_store.get, state.cache_key, now), "hit"  # type: ignore[union-attr]
        if stored is None and settings.mode == "semantic":
            try:
                vector = await self._embed(ctx, settings, prompt_text(request))
            except MeshError as error:  # e.g. the app may not use the embedding route: exact cache only
                logger.warning("semantic cache skipped for %s: %s", ctx.request_id, error.message)
                ctx.extra_headers["x-mesh-cache"] = "miss"
                return None
            partition = semantic_partition(app, request.model)
            state.semantic = (partition, vector, state.cache_ttl)
            stored_vectors = await off_loop(self.blocking_io, self.cache_store.vectors, partition, now, settings.max_entries)  # type: ignore[union-attr]
            match = best_match(vector, stored_vectors, settings.threshold)
            stored, kind = (match[1], "semantic") if match else (None, kind)
        if stored is None:
            ctx.extra_headers["x-mesh-cache"] = "miss"
            return None
        entry = json.loads(stored)
        ctx.extra_headers["x-mesh-cache"] = kind
        ctx.route = request.model
        ctx.provider, ctx.model = entry["provider"], entry["model"]
        state.cached_from = entry
        completion = ChatCompletion.model_validate(entry["completion"])
        return completion.model_copy(update={"id": f"chatcmpl-{ctx.request_id[4:]}", "created": int(now)})

    async def _embed(self, ctx: RequestContext, settings: RouteCacheConfig, text: str) -> list[float]:
        if settings.embedding_route and self.embedder is not None:
            return normalise(await self.embedder(ctx, settings.embedding_route, text))
        return hashing_embedding(text)

    def _cache_store(self, ctx: RequestContext, state: _State, completion: ChatCompletion) -> None:
        if state.cache_key is None or not cacheable_answer(completion) or not ctx.provider:
            return
        expires, app = self.clock() + state.cache_ttl, (ctx.caller.app if ctx.caller else "-")
        try:  # a cache write fails soft (counted): the answer, its records and its settlement go on without it
            value = json.dumps({"provider": ctx.provider, "model": ctx.model,
                                "completion": completion.model_dump(mode="json", exclude_none=True)}, separators=(",", ":"))
            self.cache_store.put(state.cache_key, app, value, expires)  # type: ignore[union-attr]
            if state.semantic is not None:
                partition, vector, _ = state.semantic
                self.cache_store.put_vector(partition, uuid.uuid4().hex, pack(vector), value, expires)  # type: ignore[union-attr]
        except Exception:
            logger.exception("could not store a cache entry for %s", ctx.request_id)
            note_dropped_write("cache")

    # ------------------------------------------------------------ hook points
    async def before_chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletionRequest | ChatCompletion:
        state = _state(ctx)
        state.request = request
        if self.cache_store is not None:
            hit = await self._cache_lookup(ctx, state, request)
            if hit is not None:
                return hit
        if self.limits is not None or self.budgets is not None:
            # the bound counts everything sent (tools, schemas, images, names), never only message text
            bound, max_output = chat_input_bound(request), self._max_output(request.model, request)
            if not self._admit_from_memory(ctx, state, request.model, bound, max_output):
                await off_loop(self.blocking_io, self._admit, ctx, state, request.model, bound, max_output)
        return request

    async def after_chat(self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion) -> ChatCompletion:
        state = _state(ctx)
        if state.cache_key is not None and state.cached_from is None:
            await off_loop(self.blocking_io, self._cache_store, ctx, state, completion)
        return completion

    async def _collect(self, ctx: RequestContext, state: _State, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        async for chunk in chunks:
            if chunk.usage is not None:
                state.stream_usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    state.stream_text.append(choice.delta.content)
                if choice.delta.tool_calls:
                    for call in choice.delta.tool_calls:
                        if call.function is not None and call.function.arguments:
                            state.stream_text.append(call.function.arguments)
                if choice.finish_reason:
                    state.stream_finish = choice.finish_reason
            yield chunk

    def wrap_stream(self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        state = _state(ctx)
        if state.cached_from is not None:
            return chunks
        return self._collect(ctx, state, chunks)

    async def before_embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsRequest:
        state = _state(ctx)
        texts = [request.input] if isinstance(request.input, str) else [t for t in request.input if isinstance(t, str)]
        state.texts = texts
        if self.limits is not None or self.budgets is not None:
            bound = embeddings_input_bound(request)
            if not self._admit_from_memory(ctx, state, request.model, bound, 0):
                await off_loop(self.blocking_io, self._admit, ctx, state, request.model, bound, 0)
        return request

    # ------------------------------------------------------------ accounting
    def _meter(self, ctx: RequestContext, state: _State, outcome: Outcome) -> Metered:
        if ctx.endpoint.startswith("embeddings"):
            return metering.embedding_usage(outcome.usage, state.texts) if outcome.status < 400 else Metered()
        usage = outcome.usage or state.stream_usage
        if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
            return metering.from_usage(usage)
        if outcome.status < 400 and state.request is not None:  # the provider reported nothing
            return metering.estimate(state.request.messages, "".join(state.stream_text))
        if ctx.stream and state.stream_text and state.request is not None:  # cut stream: tokens were produced
            return metering.estimate(state.request.messages, "".join(state.stream_text))
        return Metered(requests=1 if ctx.attempts else 0)

    def _price(self, provider: str, model: str, usage: Metered, at: float) -> CostBreakdown:
        return self.prices.cost(usage, provider, self._kind(provider), model, at)

    def completion_waits(self, ctx: RequestContext) -> bool:
        """Settling waits unless every write it makes is queued: budget settlements and the
        ledger behind background writers, and no rate-limit correction or stream cache write."""
        state = _state(ctx)
        if state.settled:
            return False
        if self.limits is not None and state.token_holds:
            return True
        if ctx.stream and state.cache_key is not None:
            return True
        if self.budgets is not None and state.holds and not getattr(self.budgets.store, "deferred", False):
            return True
        return self.ledger is not None and not getattr(self.ledger, "deferred", False)

    def on_complete(self, ctx: RequestContext, outcome: Outcome) -> None:
        state = _state(ctx)
        if state.settled:
            return
        state.settled = True
        app = ctx.caller.app if ctx.caller else "-"
        now = self.clock()
        hit = state.cached_from is not None and outcome.served_from_cache
        avoided = Decimal(0)
        if hit:
            stored_usage = (state.cached_from or {}).get("completion", {}).get("usage") or {}
            would = Metered(input_tokens=stored_usage.get("prompt_tokens", 0), output_tokens=stored_usage.get("completion_tokens", 0))
            avoided = self._price(ctx.provider, ctx.model, would, ctx.received_at).total
            usage, cost = Metered(requests=0), CostBreakdown(total=quantize(Decimal(0)))
        else:
            usage = self._meter(ctx, state, outcome)
            cost = self._price(ctx.provider, ctx.model, usage, ctx.received_at) if ctx.provider else CostBreakdown()
        actual_nano = cost.nano_usd
        if self.budgets is not None and state.holds:
            self.budgets.settle(state.holds, actual_nano, now, gauge=getattr(self.metrics, "budget", None))
        if self.limits is not None and state.token_holds:
            self.limits.settle(state.token_holds, usage.total_tokens)
        if outcome.status < 400 and ctx.stream and state.cache_key is not None and not hit and state.stream_finish:
            self._store_stream(ctx, state)
        total = f"{cost.total:f}"
        ctx.cost_usd = cost.total  # the one settled price: audit, experiments and agents read it
        if not ctx.stream:
            ctx.extra_headers["x-mesh-cost-usd"] = total
        if self.ledger is not None and (ctx.attempts or hit):
            team, project = self._team(app)
            request = state.request
            record = CostRecord(
                request_id=ctx.request_id, timestamp=ctx.received_at, app=app, route=ctx.route or "-",
                provider=ctx.provider or "-", model=ctx.model or "-", endpoint=ctx.endpoint, team=team,
                project=project, user=request.user if request is not None else None, tags=dict(ctx.tags),
                status=outcome.status, prompt_tokens=usage.prompt_tokens + usage.embedding_tokens,
                completion_tokens=usage.output_tokens, cached_tokens=usage.cached_input_tokens, cost_usd=total,
                estimated=usage.estimated or not cost.priced, cache_hit=hit, avoided_usd=f"{avoided:f}",
            )
            try:
                self.ledger.record(record)
            except Exception:
                note_dropped_write("ledger")
                logger.exception("could not write the cost record of %s", ctx.request_id)
        self.metrics.emit(RequestMetrics(
            app=app, route=ctx.route, provider=ctx.provider, model=ctx.model, status=outcome.status,
            latency_ms=ctx.elapsed_ms(), time_to_first_token_ms=ctx.time_to_first_token_ms(),
            prompt_tokens=usage.prompt_tokens + usage.embedding_tokens, completion_tokens=usage.output_tokens,
            cost_usd=float(cost.total), cache_hit=hit, fallback=ctx.attempts > 1 or ctx.fallback_reason is not None,
            endpoint=ctx.endpoint, upstream_ms=ctx.upstream_seconds * 1000.0,
        ))

    def _store_stream(self, ctx: RequestContext, state: _State) -> None:
        if state.stream_finish not in ("stop", "length"):
            return  # tool-call streams are not rebuilt here; their non-streamed twins are cached
        completion = ChatCompletion.model_validate({
            "id": f"chatcmpl-{ctx.request_id[4:]}", "created": int(self.clock()), "model": ctx.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(state.stream_text)},
                         "finish_reason": state.stream_finish}],
            "usage": state.stream_usage.model_dump() if state.stream_usage is not None else None,
        })
        self._cache_store(ctx, state, completion)

    def _budget_alert(self, budget: Any, key: str, spent_nano: int, limit_nano: int, fraction: float) -> None:
        logger.warning("budget %s crossed %d%% (%s): spent $%s of $%s", budget.name, round(fraction * 100), key,
                       Decimal(spent_nano) / 1_000_000_000, budget.limit_usd)
        alert = getattr(self.metrics, "budget_alert", None)
        if alert is not None:
            alert(budget.name, fraction)


def build_cost_hook(context: Any) -> CostHook | None:
    """HOOK_FACTORIES entry: None when mesh.yaml has no ``costs`` section."""
    if getattr(context.config, "costs", None) is None:
        return None
    extras = context.extras
    return CostHook(context.config, context.stores, metrics=extras.get("metrics"), embedder=extras.get("embedder"))
