"""The ``observability:`` section of mesh.yaml (admin config only; nothing here comes from a request).

```yaml
observability:
  otlp:
    endpoint: http://otel-collector:4318        # OTLP/HTTP (protobuf); /v1/metrics is appended
    headers: {authorization: {env: OTLP_AUTH}}  # credentials are references, resolved at start
    export_interval_seconds: 10
```

Off by default: without ``otlp`` the mesh loads no OpenTelemetry code at all.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from llm_mesh.config.base import SecretRef, Strict

METRICS_PATH = "/v1/metrics"


class OtlpConfig(Strict):
    endpoint: str = Field(description="OTLP/HTTP collector base URL (http://host:4318) or its full /v1/metrics URL")
    headers: dict[str, SecretRef] = Field(default_factory=dict,
                                          description="request headers for the collector, as credential references")
    export_interval_seconds: float = Field(default=10.0, ge=0.1, le=3600, description="how often metrics are pushed")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="one export's HTTP timeout")
    service_name: str = Field(default="llm-mesh", min_length=1, max_length=128, description="the service.name resource")

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#@]+(/[^\s?#]*)?$", value):
            raise ValueError("endpoint must be an http(s) URL without credentials, query or fragment")
        return value.rstrip("/")

    @property
    def metrics_url(self) -> str:
        return self.endpoint if self.endpoint.endswith(METRICS_PATH) else self.endpoint + METRICS_PATH


class ObservabilityConfig(Strict):
    otlp: OtlpConfig | None = Field(default=None, description="push request metrics to an OpenTelemetry collector")
