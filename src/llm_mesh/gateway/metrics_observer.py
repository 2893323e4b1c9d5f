"""Request metrics for every request, whatever sections mesh.yaml has.

``MeshService.record`` calls the observer once per finished request, after the hooks.
With a ``costs:`` section the cost hook already emits the request's metrics (with its
price), so the observer emits only what nobody else does: the request metrics when
there is no cost hook, and always the count of background writes (request log, audit,
ledger) that were dropped since the previous request. A dropped write is reported
with the next request the process finishes; the metric is a drop counter, not a log.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable

from llm_mesh.cost.metrics import MetricsSink, RequestMetrics

logger = logging.getLogger("llm_mesh.metrics")

WRITE_KINDS = ("request_log", "audit", "ledger")
_dropped: collections.Counter[str] = collections.Counter()
_dropped_lock = threading.Lock()


def note_dropped_write(kind: str, count: int = 1) -> None:
    """``count`` store writes were given up (the requests they describe still succeeded)."""
    with _dropped_lock:
        _dropped[kind] += count


def take_dropped_writes() -> dict[str, int]:
    """The drops counted since the last call, per kind; resets the counters."""
    with _dropped_lock:
        taken = dict(_dropped)
        _dropped.clear()
    return taken


def request_metrics(ctx: Any, outcome: Any) -> RequestMetrics:
    """The request's metrics from what the gateway knows without prices."""
    usage = outcome.usage
    return RequestMetrics(
        app=ctx.caller.app if ctx.caller else "-", route=ctx.route or "-", provider=ctx.provider or "-",
        model=ctx.model or "-", status=outcome.status, latency_ms=ctx.elapsed_ms(),
        time_to_first_token_ms=ctx.time_to_first_token_ms(),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cache_hit=bool(outcome.served_from_cache),
        fallback=ctx.attempts > 1 or getattr(ctx, "fallback_reason", None) is not None,
        endpoint=getattr(ctx, "endpoint", "chat.completions"), upstream_ms=getattr(ctx, "upstream_seconds", 0.0) * 1000.0,
    )


class RequestMetricsObserver:
    """Called by the service for each finished request; never raises into the request path."""

    def __init__(self, sink: MetricsSink, *, emit_requests: bool) -> None:
        self.sink = sink
        self.emit_requests = emit_requests

    def __call__(self, ctx: Any, outcome: Any) -> None:
        try:
            if self.emit_requests:
                self.sink.emit(request_metrics(ctx, outcome))
            dropped = take_dropped_writes()
            report = getattr(self.sink, "dropped_writes", None)
            if dropped and report is not None:
                report(dropped)
        except Exception:  # metrics must never fail the request they describe
            logger.exception("could not emit the metrics of %s", getattr(ctx, "request_id", "?"))


def build_observer(config: Any, home: str, extras: dict[str, Any]) -> Callable[[Any, Any], None] | None:
    """The observer for a runtime over the home's sink (``extras['metrics']``, chosen by
    ``runtime.home_extras``: EMF on AWS), or none when the home has no sink."""
    sink = extras.get("metrics")
    if sink is None:
        return None
    return RequestMetricsObserver(sink, emit_requests=getattr(config, "costs", None) is None)
