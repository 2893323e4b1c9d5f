"""Request metrics: a small sink protocol the cost hook emits to on every completed call.

Dimensions are bounded: app, route, provider, model (names from mesh.yaml and the
provider's model id), never users, tags or request ids. The AWS home plugs in the
EMF sink (llm_mesh.aws.metrics); tests use the in-memory sink.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

DIMENSIONS = ("app", "route", "provider", "model")


@dataclass(frozen=True)
class RequestMetrics:
    app: str
    route: str
    provider: str
    model: str
    status: int
    latency_ms: float
    time_to_first_token_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0  # metrics are for dashboards; the ledger holds the exact amount
    cache_hit: bool = False
    fallback: bool = False
    extra: dict[str, float] = field(default_factory=dict)
    endpoint: str = "chat.completions"  # the inbound API (chat.completions, embeddings...); not a dimension
    upstream_ms: float | None = None  # time spent waiting on providers (OTLP's client operation duration)

    @property
    def error(self) -> bool:
        return self.status >= 400

    def dimensions(self) -> dict[str, str]:
        return {"app": self.app or "-", "route": self.route or "-", "provider": self.provider or "-",
                "model": self.model or "-"}

    def values(self) -> dict[str, tuple[float, str]]:
        """metric name -> (value, unit)."""
        values: dict[str, tuple[float, str]] = {
            "Requests": (1, "Count"),
            "Errors": (1 if self.error else 0, "Count"),
            "Latency": (self.latency_ms, "Milliseconds"),
            "PromptTokens": (self.prompt_tokens, "Count"),
            "CompletionTokens": (self.completion_tokens, "Count"),
            "CostUSD": (self.cost_usd, "None"),
            "CacheHits": (1 if self.cache_hit else 0, "Count"),
            "Fallbacks": (1 if self.fallback else 0, "Count"),
        }
        if self.time_to_first_token_ms is not None:
            values["TimeToFirstToken"] = (self.time_to_first_token_ms, "Milliseconds")
        for name, value in self.extra.items():
            values[name] = (value, "None")
        return values


class MetricsSink(Protocol):
    def emit(self, metrics: RequestMetrics) -> None: ...

    def flush(self) -> None: ...


class NullMetricsSink:
    def emit(self, metrics: RequestMetrics) -> None:
        return None

    def flush(self) -> None:
        return None


class InMemoryMetricsSink:
    """Keeps every emission and per-metric sums by dimension set (for tests and `mesh` local runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.emitted: list[RequestMetrics] = []
        self.sums: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)

    def emit(self, metrics: RequestMetrics) -> None:
        key = tuple(sorted(metrics.dimensions().items()))
        with self._lock:
            self.emitted.append(metrics)
            for name, (value, _) in metrics.values().items():
                self.sums[(name, key)] += value

    def total(self, name: str, **dimensions: str) -> float:
        with self._lock:
            return sum(v for (metric, dims), v in self.sums.items()
                       if metric == name and all(dict(dims).get(k) == val for k, val in dimensions.items()))

    def flush(self) -> None:
        return None
