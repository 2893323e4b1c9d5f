"""Circuit breaking with state shared through a TargetHealthStore.

A failing target is taken out for a cool-down once it fails ``failure_threshold``
times inside a window; after the cool-down traffic flows again (the probe) and one
more failure re-opens it. Reads are cached briefly per instance so the hot path
does not hit the store on every request; store faults never fail a request.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

from llm_mesh.config.schema import CircuitBreakerConfig
from llm_mesh.stores.interfaces import TargetHealth, TargetHealthStore

logger = logging.getLogger("llm_mesh.routing")


class CircuitBreaker:
    def __init__(self, store: TargetHealthStore, clock: Callable[[], float] = time.time, cache_seconds: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._snapshot: dict[str, TargetHealth] = {}
        self._fetched_at: dict[str, float] = {}

    def _refresh(self, targets: Sequence[str]) -> None:
        now = self._clock()
        stale = [t for t in targets if now - self._fetched_at.get(t, -1e9) >= self._cache_seconds]
        if not stale:
            return
        try:
            fresh = self._store.get_health(stale)
        except Exception:
            logger.warning("target health store unavailable; treating targets as healthy", exc_info=True)
            fresh = {}
        for target in stale:
            self._fetched_at[target] = now
            if target in fresh:
                self._snapshot[target] = fresh[target]
            else:
                self._snapshot.pop(target, None)

    def open_targets(self, targets: Sequence[str]) -> set[str]:
        self._refresh(targets)
        now = self._clock()
        return {t for t in targets if (h := self._snapshot.get(t)) is not None and h.is_open(now)}

    def failure(self, target: str, config: CircuitBreakerConfig) -> None:
        now = self._clock()
        try:
            health = self._store.record_failure(
                target, now, config.failure_threshold, config.window_seconds, config.cooldown_seconds
            )
        except Exception:
            logger.warning("could not record a failure of %s", target, exc_info=True)
            return
        self._snapshot[target] = health
        self._fetched_at[target] = now

    def success(self, target: str) -> None:
        known = self._snapshot.get(target)
        if known is None or known.failures == 0:
            return  # nothing to clear: no store write on the common path
        try:
            self._store.record_success(target)
        except Exception:
            logger.warning("could not record a recovery of %s", target, exc_info=True)
            return
        self._snapshot.pop(target, None)
        self._fetched_at[target] = self._clock()
