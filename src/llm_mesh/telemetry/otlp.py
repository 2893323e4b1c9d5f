"""Request metrics pushed over OTLP/HTTP, named after the OpenTelemetry GenAI semantic conventions.

Instruments (one per runtime, on the runtime's own MeterProvider, never the global one):

- ``gen_ai.client.token.usage`` ({token}), with ``gen_ai.token.type`` = ``input`` | ``output``
- ``gen_ai.client.operation.duration`` (s): the mesh as the provider's client: the time it
  waited on providers for the request (every attempt of a failover together)
- ``gen_ai.server.request.duration`` (s): the mesh as the app's server, received to last byte
- ``gen_ai.server.time_to_first_token`` (s): streams only

Attributes: ``gen_ai.operation.name`` (chat, embeddings, invoke_agent), ``gen_ai.system`` and
``gen_ai.provider.name`` (from the provider's kind: openai, anthropic, aws.bedrock...),
``gen_ai.request.model`` (the provider's model id, as in the request log), ``error.type``
(the status code) on failures, and the mesh's bounded ``llm_mesh.app`` / ``llm_mesh.route``.
Never users, tags or request ids. Metrics are pushed every ``export_interval_seconds`` and
on ``flush()`` / ``close()`` (the runtime closes the sink on shutdown).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from llm_mesh.cost.metrics import RequestMetrics
from llm_mesh.telemetry.config import OtlpConfig

# Bucket boundaries the GenAI conventions advise.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
OPERATIONS = {"chat.completions": "chat", "messages": "chat", "responses": "chat", "embeddings": "embeddings",
              "embeddings.cache": "embeddings", "agents.runs": "invoke_agent"}
SYSTEMS = {"bedrock": "aws.bedrock", "azure_openai": "az.ai.openai", "mistral": "mistral_ai", "gemini": "gcp.gemini",
           "sagemaker": "aws.sagemaker"}


class OtlpMetricsSink:
    def __init__(self, config: OtlpConfig, headers: dict[str, str] | None = None,
                 provider_kinds: dict[str, str] | None = None) -> None:
        self.provider_kinds = dict(provider_kinds or {})
        exporter = OTLPMetricExporter(endpoint=config.metrics_url, headers=dict(headers or {}),
                                      timeout=config.timeout_seconds)
        self.reader = PeriodicExportingMetricReader(exporter, export_interval_millis=config.export_interval_seconds * 1000)
        self.provider = MeterProvider(resource=Resource.create({"service.name": config.service_name}),
                                      metric_readers=[self.reader], shutdown_on_exit=False)
        meter = self.provider.get_meter("llm_mesh")
        self.tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}",
                                             description="Number of input and output tokens used",
                                             explicit_bucket_boundaries_advisory=TOKEN_BUCKETS)
        self.operation = meter.create_histogram("gen_ai.client.operation.duration", unit="s",
                                                description="GenAI operation duration",
                                                explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.server = meter.create_histogram("gen_ai.server.request.duration", unit="s",
                                             description="Generative AI server request duration",
                                             explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.ttft = meter.create_histogram("gen_ai.server.time_to_first_token", unit="s",
                                           description="Time to generate first token for successful responses",
                                           explicit_bucket_boundaries_advisory=TTFT_BUCKETS)
        self._closed = False

    def attributes(self, metrics: RequestMetrics) -> dict[str, Any]:
        kind = self.provider_kinds.get(metrics.provider, metrics.provider or "_OTHER")
        system = SYSTEMS.get(kind, kind)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": OPERATIONS.get(metrics.endpoint, metrics.endpoint or "chat"),
            "gen_ai.system": system, "gen_ai.provider.name": system,
            "gen_ai.request.model": metrics.model or "-",
            "llm_mesh.app": metrics.app or "-", "llm_mesh.route": metrics.route or "-",
        }
        if metrics.error:
            attributes["error.type"] = str(metrics.status)
        return attributes

    def emit(self, metrics: RequestMetrics) -> None:
        if self._closed:
            return
        attributes = self.attributes(metrics)
        seconds = metrics.latency_ms / 1000
        upstream = metrics.upstream_ms if metrics.upstream_ms is not None else metrics.latency_ms
        self.operation.record(upstream / 1000, attributes)
        self.server.record(seconds, attributes)
        if not metrics.error or metrics.prompt_tokens or metrics.completion_tokens:
            self.tokens.record(metrics.prompt_tokens, {**attributes, "gen_ai.token.type": "input"})
            self.tokens.record(metrics.completion_tokens, {**attributes, "gen_ai.token.type": "output"})
        if metrics.time_to_first_token_ms is not None and not metrics.error:
            self.ttft.record(metrics.time_to_first_token_ms / 1000, attributes)

    @property
    def closed(self) -> bool:
        return self._closed

    def flush(self) -> None:
        """Export what has been recorded now (blocks up to the export timeout)."""
        if not self._closed:
            self.provider.force_flush()

    def close(self) -> None:
        """Export the last figures and stop the background exporter."""
        if not self._closed:
            self._closed = True
            self.provider.shutdown()
