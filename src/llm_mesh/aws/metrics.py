"""CloudWatch metrics in Embedded Metric Format through Powertools Metrics.

One EMF document per completed request (Lambda serves one request at a time per
instance; the document goes to stdout and CloudWatch Logs extracts the metrics, no
API call on the hot path). Dimensions are bounded: the full set (service, app,
route, provider, model) plus roll-ups (service+app, service+model,
service+provider, service alone) so dashboards and alarms can read spend, latency
percentiles and error rates per app, model or provider without SEARCH.
Budget counters are emitted per budget (dimension ``budget``) after each settle.
"""

from __future__ import annotations

import threading
from typing import Any

from llm_mesh.cost.metrics import RequestMetrics

NAMESPACE = "LLMMesh"
SERVICE = "llm-mesh"

_UNITS = {"Count": "Count", "Milliseconds": "Milliseconds", "None": "None"}


class EmfMetricsSink:
    """``MetricsSink`` writing EMF via aws_lambda_powertools.Metrics (flushes per emission)."""

    def __init__(self, namespace: str = NAMESPACE, service: str = SERVICE, metrics: Any = None) -> None:
        if metrics is None:
            from aws_lambda_powertools import Metrics

            metrics = Metrics(namespace=namespace, service=service)
        self._metrics = metrics
        self._service = service
        self._lock = threading.Lock()

    def emit(self, metrics: RequestMetrics) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        dims = metrics.dimensions()
        with self._lock:
            m = self._metrics
            for name, value in dims.items():
                m.add_dimension(name=name, value=value)
            for rollup in ("app", "model", "provider"):
                m.add_dimensions(service=self._service, **{rollup: dims[rollup]})
            m.add_dimensions(service=self._service)
            for name, (value, unit) in metrics.values().items():
                m.add_metric(name=name, unit=MetricUnit(_UNITS.get(unit, "None")), value=value)
            m.flush_metrics()

    def budget(self, name: str, spent_usd: float, limit_usd: float) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        with self._lock:
            m = self._metrics
            m.add_dimension(name="budget", value=name)
            m.add_metric(name="BudgetSpentUSD", unit=MetricUnit.NoUnit, value=spent_usd)
            m.add_metric(name="BudgetLimitUSD", unit=MetricUnit.NoUnit, value=limit_usd)
            m.add_metric(name="BudgetUsedPercent", unit=MetricUnit.Percent,
                         value=(100.0 * spent_usd / limit_usd) if limit_usd else 0.0)
            m.flush_metrics()

    def budget_alert(self, name: str, fraction: float) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        with self._lock:
            self._metrics.add_dimension(name="budget", value=name)
            self._metrics.add_metric(name="BudgetAlerts", unit=MetricUnit.Count, value=1)
            self._metrics.flush_metrics()

    def dropped_writes(self, counts: dict[str, int]) -> None:
        """``DroppedWrites`` per kind of write (request_log, audit, ledger), and summed per service."""
        from aws_lambda_powertools.metrics import MetricUnit

        with self._lock:
            for kind, count in sorted(counts.items()):
                self._metrics.add_dimension(name="write", value=kind)
                self._metrics.add_dimensions(service=self._service)
                self._metrics.add_metric(name="DroppedWrites", unit=MetricUnit.Count, value=count)
                self._metrics.flush_metrics()

    def flush(self) -> None:
        return None
