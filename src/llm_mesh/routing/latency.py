"""Moving averages of observed latency and time to first token per target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LatencyStats:
    latency_ms: float | None = None
    first_token_ms: float | None = None
    samples: int = 0


class LatencyTracker:
    """Exponentially weighted moving averages, one per target (per instance)."""

    def __init__(self, alpha: float = 0.2) -> None:
        self._alpha = alpha
        self._stats: dict[str, LatencyStats] = {}

    def observe(self, target: str, latency_ms: float, first_token_ms: float | None = None) -> None:
        stats = self._stats.setdefault(target, LatencyStats())
        stats.latency_ms = _ewma(stats.latency_ms, latency_ms, self._alpha)
        if first_token_ms is not None:
            stats.first_token_ms = _ewma(stats.first_token_ms, first_token_ms, self._alpha)
        stats.samples += 1

    def score(self, target: str, streaming: bool) -> float:
        """Lower is better; unmeasured targets score 0 so they get measured."""
        stats = self._stats.get(target)
        if stats is None:
            return 0.0
        if streaming and stats.first_token_ms is not None:
            return stats.first_token_ms
        return stats.latency_ms or 0.0

    def snapshot(self) -> dict[str, LatencyStats]:
        return dict(self._stats)


def _ewma(previous: float | None, value: float, alpha: float) -> float:
    return value if previous is None else previous + alpha * (value - previous)
