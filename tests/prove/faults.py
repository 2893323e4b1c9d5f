"""The upstream fault catalogue: each fault, the route that provokes it and what the client must see.

A fault is provoked with the fake upstream's model-name directives (tests/fakes/openai_upstream.py),
so each one is a route of the test mesh. ``expect`` is the client-visible outcome asserted by
tests/prove/test_faults.py; the ids (``name -> outcome``) are what bench/prove.py prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    name: str
    model: str  # upstream model name with fake directives
    stream: bool
    status: int  # HTTP status the client sees
    code: str | None = None  # error.code the client sees (None: a success)
    stream_outcome: str | None = None  # "done" | "error_event" for streams that started
    retry_after: str | None = None  # Retry-After header the client must get
    route_extra: dict[str, Any] | None = None  # extra route settings (retry, timeout...)
    known_issue: str | None = None  # the exact outcome is a known bug: a 5xx gateway error is still required

    @property
    def outcome(self) -> str:
        if self.stream_outcome == "error_event":
            return "200, content, then an SSE error event, no [DONE]"
        if self.stream_outcome == "done":
            return "200 stream ending with [DONE]"
        if self.code:
            return f"{self.status} {self.code}" + (f" Retry-After {self.retry_after}" if self.retry_after else "")
        return str(self.status)

    @property
    def id(self) -> str:
        return f"{self.name} -> {self.outcome}"


FAULTS: tuple[Fault, ...] = (
    Fault("upstream 500", "gpt-4o;status=500", False, 502, "bad_gateway"),
    Fault("upstream 502", "gpt-4o;status=502", False, 502, "bad_gateway"),
    Fault("upstream 503", "gpt-4o;status=503", False, 503, "upstream_unavailable"),
    Fault("upstream 503 streamed", "gpt-4o;status=503", True, 503, "upstream_unavailable"),
    Fault("upstream 429 Retry-After 7", "gpt-4o;status=429;retry_after=7", False, 429, "rate_limit_exceeded",
          retry_after="7"),
    Fault("upstream timeout (target timeout 0.3 s)", "gpt-4o;latency_ms=3000", False, 504, "upstream_timeout",
          route_extra={"timeout": 0.3}),
    Fault("upstream timeout streamed", "gpt-4o;latency_ms=3000", True, 504, "upstream_timeout",
          route_extra={"timeout": 0.3}),
    Fault("connection reset", "gpt-4o;reset_connection", False, 503, "upstream_unavailable"),
    Fault("connection reset streamed", "gpt-4o;reset_connection", True, 503, "upstream_unavailable"),
    Fault("malformed upstream JSON", "gpt-4o;malformed_json", False, 502, "bad_gateway"),
    Fault("malformed upstream JSON streamed", "gpt-4o;malformed_json", True, 502, None),
    Fault("slow stream (40 ms between chunks)", "gpt-4o;chunk_delay_ms=40", True, 200, stream_outcome="done"),
    Fault("stream cut mid-way (FIN)", "gpt-4o;cut_stream_after=3", True, 200, None, stream_outcome="error_event"),
    Fault("stream cut mid-way (RST)", "gpt-4o;cut_stream_after=3;cut_style=reset", True, 200, None,
          stream_outcome="error_event"),
    Fault("stream ends without [DONE]", "gpt-4o;cut_stream_after=3;cut_style=clean", True, 200, None,
          stream_outcome="error_event"),
    Fault("in-band stream error event", "gpt-4o;stream_error_after=3", True, 200, None,
          stream_outcome="error_event"),
    Fault("stream cut before any content (FIN)", "gpt-4o;cut_stream_after=1", True, 503, "upstream_unavailable"),
    Fault("stream ends cleanly before any content", "gpt-4o;cut_stream_after=1;cut_style=clean", True, 502,
          "stream_cut"),
)


def route_name(fault: Fault) -> str:
    return "fault-" + str(FAULTS.index(fault))


def fault_routes(provider: str) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    for fault in FAULTS:
        target = {"provider": provider, "model": fault.model, **(fault.route_extra or {})}
        routes[route_name(fault)] = {"targets": [target]}
    return routes
