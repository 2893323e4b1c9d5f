"""Request metrics in the Prometheus text format, for the local home's ``GET /metrics``.

The same ``RequestMetrics`` the AWS home writes as EMF land here in counters and a
latency histogram, one registry per runtime (never the library's global registry, so
two runtimes in one process do not mix). Labels are the bounded dimensions of
``cost.metrics`` plus the status code; users, tags and request ids never become labels.
Each worker process of ``mesh serve --workers N`` keeps its own registry: scrape each
worker, or run one worker when the figures must be whole.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from llm_mesh.cost.metrics import DIMENSIONS, RequestMetrics

CONTENT_TYPE = CONTENT_TYPE_LATEST
LABELS = (*DIMENSIONS, "status")
LATENCY_BUCKETS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000)


class PrometheusMetricsSink:
    """A ``MetricsSink`` whose state is scraped rather than shipped."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter("mesh_requests", "Requests finished", LABELS, registry=registry)
        self.errors = Counter("mesh_request_errors", "Requests answered with a 4xx or 5xx", LABELS, registry=registry)
        self.latency = Histogram("mesh_request_latency_ms", "Time in the mesh, received to last byte (ms)",
                                 LABELS, buckets=LATENCY_BUCKETS_MS, registry=registry)
        self.ttft = Histogram("mesh_time_to_first_token_ms", "Time to the first streamed token (ms)",
                              DIMENSIONS, buckets=LATENCY_BUCKETS_MS, registry=registry)
        self.tokens = Counter("mesh_tokens", "Tokens billed", (*DIMENSIONS, "kind"), registry=registry)
        self.cost = Counter("mesh_cost_usd", "Spend in USD (the ledger holds the exact amount)", DIMENSIONS,
                            registry=registry)
        self.cache_hits = Counter("mesh_cache_hits", "Answers served from the response cache", DIMENSIONS,
                                  registry=registry)
        self.fallbacks = Counter("mesh_fallbacks", "Requests answered after a failover", DIMENSIONS, registry=registry)
        self.dropped = Counter("mesh_dropped_writes", "Request-log, audit or ledger writes given up", ("kind",),
                               registry=registry)
        self.budget_used = Gauge("mesh_budget_used_ratio", "Budget spend over its limit", ("budget",),
                                 registry=registry)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, values: tuple[str, ...]) -> Any:
        """``metric.labels(*values)``, looked up once per label set (the library's ``labels``
        validates and locks on every call: ~5 us, several times per request)."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            if len(self._children) > 10_000:  # bounded dimensions; a safety net all the same
                self._children.clear()
            child = self._children[key] = metric.labels(*values)
        return child

    def emit(self, metrics: RequestMetrics) -> None:
        dims = (metrics.app or "-", metrics.route or "-", metrics.provider or "-", metrics.model or "-")
        labelled = (*dims, str(metrics.status))
        self._child(self.requests, labelled).inc()
        if metrics.error:
            self._child(self.errors, labelled).inc()
        self._child(self.latency, labelled).observe(metrics.latency_ms)
        if metrics.time_to_first_token_ms is not None:
            self._child(self.ttft, dims).observe(metrics.time_to_first_token_ms)
        if metrics.prompt_tokens:
            self._child(self.tokens, (*dims, "prompt")).inc(metrics.prompt_tokens)
        if metrics.completion_tokens:
            self._child(self.tokens, (*dims, "completion")).inc(metrics.completion_tokens)
        if metrics.cost_usd:
            self._child(self.cost, dims).inc(metrics.cost_usd)
        if metrics.cache_hit:
            self._child(self.cache_hits, dims).inc()
        if metrics.fallback:
            self._child(self.fallbacks, dims).inc()

    def budget(self, name: str, spent_usd: float, limit_usd: float) -> None:
        if limit_usd > 0:
            self._child(self.budget_used, (name,)).set(spent_usd / limit_usd)

    def dropped_writes(self, counts: dict[str, int]) -> None:
        for kind, count in counts.items():
            self.dropped.labels(kind=kind).inc(count)

    def flush(self) -> None:
        return None

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
