"""Google API errors -> mesh errors.

Google answers errors with ``{"error": {"code", "message", "status", "details"}}``
(``status`` is the google.rpc.Code name). Streaming endpoints without ``alt=sse``
wrap it in a one-element list, so both shapes are accepted. A 429 carries its
retry window in a ``google.rpc.RetryInfo`` detail (``retryDelay: "7s"``) rather
than a Retry-After header; it is surfaced as Retry-After.
"""

from __future__ import annotations

import math
import re
from typing import Any

from llm_mesh.errors import (
    ContentPolicyViolation,
    ContextLengthExceeded,
    MeshError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

_CONTEXT_TEXT = re.compile(
    r"input token count|exceeds the maximum number of tokens|token limit|too many tokens|context (length|window)",
    re.IGNORECASE,
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def google_error(body: Any) -> dict[str, Any] | None:
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return None


def retry_after_seconds(error: dict[str, Any]) -> str | None:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return str(max(1, math.ceil(float(match.group(1)))))
    return None


def _reason(error: dict[str, Any]) -> str | None:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return str(detail.get("reason") or "")
    return None


def classify(provider: str):  # type: ignore[no-untyped-def]
    """Build the ``classify(status, body)`` hook for ``http_base.status_error``."""

    def _classify(status: int, body: Any) -> MeshError | None:
        error = google_error(body)
        if error is None:
            return None
        return from_google_error(provider, error, status)

    return _classify


def from_google_error(provider: str, error: dict[str, Any], status: int | None = None) -> MeshError | None:
    code = str(error.get("status") or "")
    message = str(error.get("message") or "")[:500]
    status = status or int(error.get("code") or 0)
    if _reason(error) in ("API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_INVALID"):
        # Gemini answers a bad key with 400 INVALID_ARGUMENT: it is the mesh's credential, not the caller's fault.
        return UpstreamError(f"provider {provider} refused the mesh's credentials", code="upstream_auth_failed")
    if code == "RESOURCE_EXHAUSTED" or status == 429:
        retry = retry_after_seconds(error)
        headers = {"Retry-After": retry} if retry else None
        if headers is None:
            return None  # the generic mapping reads Retry-After from the response headers
        return RateLimited(f"provider {provider} is rate limiting: {message}", headers=headers)
    if code == "INVALID_ARGUMENT" or status == 400:
        if _CONTEXT_TEXT.search(message):
            return ContextLengthExceeded(f"provider {provider}: {message}")
        lowered = message.lower()
        if "safety" in lowered or "blocked" in lowered or "prohibited" in lowered:
            return ContentPolicyViolation(f"provider {provider}: {message}")
        return None
    if code == "UNAVAILABLE" or status == 503:
        return UpstreamUnavailable(f"provider {provider} is unavailable: {message}")
    if code == "DEADLINE_EXCEEDED" or status == 504:
        return UpstreamTimeout(f"provider {provider} timed out: {message}")
    return None


def stream_error(provider: str, error: dict[str, Any]) -> MeshError:
    """An error object received inside a stream."""
    mapped = from_google_error(provider, error)
    if mapped is not None:
        return mapped
    code = int(error.get("code") or 0)
    if code == 429:
        return RateLimited(f"provider {provider} is rate limiting")
    return UpstreamError(f"provider {provider} reported an error mid-stream ({error.get('status') or code})")
