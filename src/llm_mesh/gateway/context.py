"""Per-request state shared by the pipeline's stages, declared once.

``RequestContext`` is a slots dataclass: a stage cannot invent an attribute, so
every piece of shared state has a name, a type and an owner here. Stages hand
state to each other through these slots, never through ``decisions`` (which is
only the audit record's content) or response-header strings.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from llm_mesh.identity import Caller


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


@dataclass(slots=True)
class PromptUse:
    """The catalogue prompt a ``prompt:NAME`` reference resolved to (resolve stage)."""

    name: str
    version: int
    label: str | None
    experiment: str | None = None
    variant: str | None = None
    user: str = ""  # who the experiment keeps sticky; never written to the audit record


@dataclass(slots=True)
class Retrieval:
    """What the enrich stage added: which knowledge bases, at which message indexes.

    The screen stage applies each knowledge base's bound policy to exactly these
    messages and screens them for injection, so retrieved text is governed like
    anything else that leaves the mesh.
    """

    knowledge_bases: tuple[str, ...]
    message_indexes: tuple[int, ...]
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class RequestContext:
    endpoint: str
    request_id: str = field(default_factory=new_request_id)
    received_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    # --- who and where (resolve, authorise)
    caller: Caller | None = None
    route: str = ""  # the authorised route, set before enrich/screen/admit run
    prompt: PromptUse | None = None
    tags: dict[str, str] = field(default_factory=dict)
    screened_tags: bool = False  # the screen stage passed: tags from body metadata are as it left them
    headers: Mapping[str, str] = field(default_factory=dict)  # the inbound request's headers (case-insensitive)
    # --- enrich, screen
    retrieval: Retrieval | None = None
    classifications: set[str] = field(default_factory=set)
    target_filter: Any = None  # (provider, model) -> bool: targets the request's data may reach (residency)
    policy_state: Any = None  # the screen stage's per-request state (engines, vault), read by transform-output
    # --- admit
    admission: Any = None  # the admit stage's holds: budget reservation, rate-limit holds, cache result
    served_from_cache: bool = False
    # --- call
    provider: str = ""
    model: str = ""
    stream: bool = False
    upstream_seconds: float = 0.0
    attempts: int = 0
    fallback_reason: str | None = None
    first_token_at: float | None = None
    # Set by the /v1/responses adapter: the Responses-only settings a native target gets
    # (gateway.native_responses); None on every other endpoint.
    responses_settings: dict[str, Any] | None = None
    # --- settle, observe
    cost_usd: Decimal | None = None  # the one settled price of the request (settle stage)
    audit_capture: Any = None  # what the audit stage keeps of the request and answer for an encrypted payload
    recorded: bool = False  # the request was recorded (ledger, log, audit): exactly once, by the service
    extra_headers: dict[str, str] = field(default_factory=dict)  # response headers stages add (cost, cache, sources...)
    decisions: dict[str, Any] = field(default_factory=dict)  # value-free decisions: the audit record's content only

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
