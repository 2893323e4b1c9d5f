"""Turn a route into the ordered list of concrete targets to try for one request.

Strategies order a route's targets: ``priority`` keeps the declared order (a
fallback chain), ``weighted`` draws by weight (the rest stay as fallbacks),
``lowest_latency`` sorts by the moving average of observed latency (time to
first token when streaming), ``lowest_cost`` by price. A target may be a route,
expanded in place with its own strategy. Then targets whose conditions do not
match the request, that lack a needed capability, or whose circuit is open are
dropped — except that open circuits are still tried last rather than failing a
request that has nowhere else to go.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from llm_mesh.config.schema import MeshConfig, RouteConfig, TargetConfig, TargetWhen
from llm_mesh.errors import InvalidRequest, PermissionDenied
from llm_mesh.providers.base import Capabilities
from llm_mesh.routing.circuit import CircuitBreaker
from llm_mesh.routing.latency import LatencyTracker
from llm_mesh.routing.requirements import Requirements, effective_capabilities, unmet


@dataclass(frozen=True)
class Attempt:
    provider: str
    model: str
    timeout: float | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass
class RequestFacts:
    """What conditions and capability checks look at."""

    app: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    classifications: frozenset[str] = frozenset()
    streaming: bool = False
    needs: Requirements = Requirements()
    prompt_tokens: Callable[[], int] | None = None  # counted lazily, only if a target has a context window
    allowed_target: Callable[[str, str], bool] | None = None  # (provider, model) -> may receive it (residency)


PriceLookup = Callable[[str, str], Decimal | None]


class RoutePlanner:
    def __init__(
        self,
        config: MeshConfig,
        capabilities: Callable[[str, str], Capabilities],
        breaker: CircuitBreaker,
        latency: LatencyTracker,
        price: PriceLookup | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._capabilities = capabilities
        self._breaker = breaker
        self._latency = latency
        self._price = price or self._registry_price
        self._rng = rng or random.Random()

    def plan(self, route_name: str, facts: RequestFacts) -> list[Attempt]:
        candidates: list[Attempt] = []
        self._expand(self._config.routes[route_name], facts, candidates, depth=0)
        unique: dict[str, Attempt] = {}
        for attempt in candidates:
            unique.setdefault(attempt.key, attempt)
        if not unique:
            raise InvalidRequest(f"no target of the model {route_name!r} accepts this request's metadata", param="model")
        if facts.allowed_target is not None:
            unique = {k: a for k, a in unique.items() if facts.allowed_target(a.provider, a.model)}
            if not unique:
                reason = getattr(facts.allowed_target, "reason", "") or "a data policy forbids every target"
                raise PermissionDenied(
                    f"no target of the model {route_name!r} may receive this request: {reason}",
                    param="model",
                    code="residency_violation",
                )

        capable, reasons = [], set()
        prompt_tokens: int | None = None
        for attempt in unique.values():
            caps = effective_capabilities(self._config, self._capabilities(attempt.provider, attempt.model), attempt.provider, attempt.model)
            if caps.context_window is not None and prompt_tokens is None and facts.prompt_tokens is not None:
                prompt_tokens = facts.prompt_tokens()
            reason = unmet(facts.needs, caps, prompt_tokens)
            if reason is None:
                capable.append(attempt)
            else:
                reasons.add(reason)
        if not capable:
            raise InvalidRequest(
                f"no target of the model {route_name!r} supports what this request needs ({', '.join(sorted(reasons))})",
                param="model",
                code="context_length_exceeded" if reasons == {"context_window"} else "unsupported_capability",
            )
        open_now = self._breaker.open_targets([a.key for a in capable])
        return [a for a in capable if a.key not in open_now] + [a for a in capable if a.key in open_now]

    def _expand(self, route: RouteConfig, facts: RequestFacts, out: list[Attempt], depth: int) -> None:
        if depth > 8:  # cycles are rejected at load time; this bounds pathological nesting
            return
        for target in self._order(route, [t for t in route.targets if _matches(t.when, facts)], facts):
            if target.route is not None:
                self._expand(self._config.routes[target.route], facts, out, depth + 1)
            else:
                out.append(Attempt(provider=target.provider or "", model=target.model or "", timeout=target.timeout))

    def _order(self, route: RouteConfig, targets: list[TargetConfig], facts: RequestFacts) -> list[TargetConfig]:
        if len(targets) < 2 or route.strategy == "priority":
            return targets
        if route.strategy == "weighted":
            ordered, pool = [], [t for t in targets if t.weight > 0]
            while pool:
                pick = self._rng.choices(pool, weights=[t.weight for t in pool])[0]
                ordered.append(pick)
                pool.remove(pick)
            return ordered + [t for t in targets if t.weight == 0]
        if route.strategy == "lowest_latency":
            return sorted(targets, key=lambda t: self._latency.score(_key(t), facts.streaming) if t.route is None else 0.0)
        if route.strategy == "lowest_cost":
            return sorted(targets, key=lambda t: self._cost_key(t))
        return targets

    def _cost_key(self, target: TargetConfig) -> Decimal:
        if target.route is not None:
            return Decimal("Infinity")
        price = self._price(target.provider or "", target.model or "")
        return price if price is not None else Decimal("Infinity")

    def _registry_price(self, provider: str, model: str) -> Decimal | None:
        entry = self._config.model_entry(provider, model)
        if entry is None or entry.prices is None:
            return None
        # Blended price per million tokens (input and output weighted equally).
        return Decimal(entry.prices.input) + Decimal(entry.prices.output)


def _key(target: TargetConfig) -> str:
    return f"{target.provider}/{target.model}"


def _matches(when: TargetWhen | None, facts: RequestFacts) -> bool:
    if when is None:
        return True
    if when.apps and facts.app not in when.apps:
        return False
    for name, value in when.tags.items():
        if facts.tags.get(name) != value:
            return False
    if when.classifications and not facts.classifications & set(when.classifications):
        return False
    return True
