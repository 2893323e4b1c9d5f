"""Turn a route into the ordered list of concrete targets to try.

Priority routes try targets in order; weighted routes draw the first target by
weight and keep the rest (by weight) as fallbacks; a target may itself be a
route, expanded in place. Later strategies (latency, cost, conditions, circuit
breaking) plug in here behind the same ``plan`` call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from llm_mesh.config.schema import MeshConfig, RouteConfig, TargetConfig


@dataclass(frozen=True)
class Attempt:
    provider: str
    model: str
    timeout: float | None = None


class RoutePlanner:
    def __init__(self, config: MeshConfig, rng: random.Random | None = None) -> None:
        self._config = config
        self._rng = rng or random.Random()

    def plan(self, route_name: str) -> list[Attempt]:
        attempts: list[Attempt] = []
        self._expand(self._config.routes[route_name], attempts, depth=0)
        seen: set[tuple[str, str]] = set()
        unique = []
        for attempt in attempts:
            key = (attempt.provider, attempt.model)
            if key not in seen:
                seen.add(key)
                unique.append(attempt)
        return unique

    def _expand(self, route: RouteConfig, out: list[Attempt], depth: int) -> None:
        if depth > 8:  # cycles are rejected at load time; this bounds pathological nesting
            return
        for target in self._order(route):
            if target.route is not None:
                self._expand(self._config.routes[target.route], out, depth + 1)
            else:
                out.append(Attempt(provider=target.provider or "", model=target.model or "", timeout=target.timeout))

    def _order(self, route: RouteConfig) -> list[TargetConfig]:
        targets = list(route.targets)
        if route.strategy != "weighted" or len(targets) < 2:
            return targets
        ordered = []
        pool = [t for t in targets if t.weight > 0]
        while pool:
            pick = self._rng.choices(pool, weights=[t.weight for t in pool])[0]
            ordered.append(pick)
            pool.remove(pick)
        return ordered + [t for t in targets if t.weight == 0]
