"""One ``MetricsSink`` that forwards to the home's sink and to further exporters (OTLP).

Everything the home's sink offers beyond the protocol (``exposition`` for GET /metrics,
budget gauges, dropped-write counters) is answered by it; an exporter failing never
stops the others, nor the request being measured.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from llm_mesh.cost.metrics import MetricsSink, RequestMetrics

logger = logging.getLogger("llm_mesh.telemetry")


class FanoutMetricsSink:
    def __init__(self, primary: MetricsSink, others: Sequence[Any]) -> None:
        self.primary = primary
        self.others = list(others)

    def __getattr__(self, name: str) -> Any:  # exposition, budget, dropped_writes... of the home's sink
        return getattr(self.primary, name)

    def emit(self, metrics: RequestMetrics) -> None:
        self.primary.emit(metrics)
        for sink in self.others:
            try:
                sink.emit(metrics)
            except Exception:
                logger.exception("metrics exporter %s failed", type(sink).__name__)

    def flush(self) -> None:
        for sink in (self.primary, *self.others):
            sink.flush()

    def close(self) -> None:
        for sink in (self.primary, *self.others):
            close = getattr(sink, "close", None)
            if callable(close):
                close()
