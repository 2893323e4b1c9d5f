"""Per-request bookkeeping: identity, the route taken, and where the time went."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

from llm_mesh.identity import Caller


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


@dataclass
class RequestContext:
    endpoint: str
    request_id: str = field(default_factory=new_request_id)
    received_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    caller: Caller | None = None
    route: str = ""
    provider: str = ""
    model: str = ""
    stream: bool = False
    upstream_seconds: float = 0.0
    attempts: int = 0
    fallback_reason: str | None = None
    first_token_at: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # the inbound request's headers (case-insensitive)
    classifications: set[str] = field(default_factory=set)
    served_from_cache: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)  # set by hooks (cost, cache, sources...)
    decisions: dict[str, Any] = field(default_factory=dict)  # policy decisions, for the audit trail
    target_filter: Any = None  # (provider, model) -> bool: targets the request's data may reach (residency)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def overhead_ms(self) -> float:
        """Time inside the mesh so far, upstream waiting excluded."""
        return max(0.0, self.elapsed_ms() - self.upstream_seconds * 1000.0)

    def time_to_first_token_ms(self) -> float | None:
        if self.first_token_at is None:
            return None
        return (self.first_token_at - self.started) * 1000.0

    def response_headers(self) -> dict[str, str]:
        headers = {"x-mesh-request-id": self.request_id}
        if self.route:
            headers["x-mesh-route"] = self.route
        if self.provider:
            headers["x-mesh-provider"] = self.provider
        if self.model:
            headers["x-mesh-model"] = self.model
        if self.attempts:
            headers["x-mesh-attempts"] = str(self.attempts)
        if self.fallback_reason:
            headers["x-mesh-fallback-reason"] = self.fallback_reason
        headers.update(self.extra_headers)
        headers["x-mesh-overhead-ms"] = f"{self.overhead_ms():.3f}"
        return headers
