"""Anthropic error bodies -> mesh errors.

Anthropic answers errors as ``{"type": "error", "error": {"type", "message"}, "request_id"}``
(https://docs.claude.com/en/api/errors): 400 invalid_request_error, 401
authentication_error, 403 permission_error, 404 not_found_error, 413
request_too_large, 429 rate_limit_error, 500 api_error, 529 overloaded_error. The same
error object can also arrive mid-stream as an ``error`` SSE event.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import (
    ContentPolicyViolation,
    ContextLengthExceeded,
    MeshError,
    PayloadTooLarge,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)

OVERLOADED_STATUS = 529


def error_fields(body: Any) -> tuple[str, str]:
    """(error type, message) of an Anthropic error body; empty strings when absent."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            kind = inner.get("type") if isinstance(inner.get("type"), str) else ""
            message = inner.get("message") if isinstance(inner.get("message"), str) else ""
            return kind, message[:500]
    return "", ""


def _by_message(provider: str, message: str) -> MeshError | None:
    lowered = message.lower()
    if "prompt is too long" in lowered or "exceeds the context window" in lowered or "context window" in lowered:
        return ContextLengthExceeded(f"provider {provider}: {message}")
    if "content filtering" in lowered or "content policy" in lowered:
        return ContentPolicyViolation(f"provider {provider}: {message}")
    return None


def make_classifier(provider: str):
    """The ``classify(status, body)`` hook for http_base.status_error.

    429 is left to the shared mapping, which carries the Retry-After header across.
    """

    def classify(status: int, body: Any) -> MeshError | None:
        kind, message = error_fields(body)
        suffix = f": {message}" if message else ""
        if status == OVERLOADED_STATUS or kind == "overloaded_error":
            return UpstreamUnavailable(f"provider {provider} is overloaded{suffix}")
        if status == 413 or kind == "request_too_large":
            return PayloadTooLarge(f"provider {provider} rejected the request as too large{suffix}")
        if status == 400 or kind == "invalid_request_error":
            return _by_message(provider, message)
        return None

    return classify


def stream_error(provider: str, body: Any) -> MeshError:
    """An ``error`` event received inside a 200 stream."""
    kind, message = error_fields(body)
    suffix = f": {message}" if message else ""
    if kind == "overloaded_error":
        return UpstreamUnavailable(f"provider {provider} is overloaded{suffix}")
    if kind == "rate_limit_error":
        return RateLimited(f"provider {provider} is rate limiting{suffix}")
    specific = _by_message(provider, message)
    if specific is not None:
        return specific
    return UpstreamError(f"provider {provider} reported an error mid-stream{suffix}", code="upstream_stream_error")
