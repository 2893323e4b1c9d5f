"""Optional telemetry exporters (OpenTelemetry OTLP), chosen from mesh.yaml's ``observability``."""

from __future__ import annotations

from typing import Any

from llm_mesh.telemetry.config import ObservabilityConfig, OtlpConfig

__all__ = ["ObservabilityConfig", "OtlpConfig", "with_telemetry"]


def with_telemetry(config: Any, secrets: Any, provided: dict[str, Any]) -> dict[str, Any]:
    """``provided`` with the OTLP sink added beside the home's metrics sink when configured."""
    otlp = getattr(getattr(config, "observability", None), "otlp", None)
    if otlp is None:
        return provided
    try:
        from llm_mesh.telemetry.otlp import OtlpMetricsSink
    except ImportError as exc:
        raise RuntimeError("observability.otlp needs the OpenTelemetry SDK: pip install 'llm-mesh[otlp]'") from exc
    from llm_mesh.telemetry.fanout import FanoutMetricsSink

    headers = {name: secrets.resolve(ref) for name, ref in otlp.headers.items()}
    sink = OtlpMetricsSink(otlp, headers=headers, provider_kinds={n: p.kind for n, p in config.providers.items()})
    home_sink = provided.get("metrics")
    return {**provided, "metrics": sink if home_sink is None else FanoutMetricsSink(home_sink, [sink])}
