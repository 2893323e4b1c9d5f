"""In-process TargetHealthStore, for tests and single-process use without a store."""

from __future__ import annotations

import threading
from typing import Sequence

from llm_mesh.stores.interfaces import TargetHealth


class InMemoryHealthStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health: dict[str, TargetHealth] = {}

    def get_health(self, targets: Sequence[str]) -> dict[str, TargetHealth]:
        with self._lock:
            return {t: self._health[t] for t in targets if t in self._health}

    def record_failure(self, target: str, now: float, threshold: int, window: float, cooldown: float) -> TargetHealth:
        with self._lock:
            current = self._health.get(target, TargetHealth(target))
            if current.open_until and now >= current.open_until:
                # Half-open: the probe after a cool-down failed, so re-open at once.
                updated = TargetHealth(target, current.failures + 1, current.window_start, now + cooldown)
                self._health[target] = updated
                return updated
            if current.failures == 0 or now - current.window_start > window:
                failures, start = 1, now
            else:
                failures, start = current.failures + 1, current.window_start
            open_until = now + cooldown if failures >= threshold else current.open_until
            updated = TargetHealth(target, failures, start, open_until)
            self._health[target] = updated
            return updated

    def record_success(self, target: str) -> None:
        with self._lock:
            self._health.pop(target, None)
