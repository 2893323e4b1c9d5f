"""Cohere API errors -> mesh errors.

Cohere answers errors with ``{"message": "..."}`` (sometimes with an ``id``).
Its prompt-too-long error is a 400 "too many tokens: ..."; a request its safety
system refuses is HTTP 498 "blocked ... usage policy"; 429 is its rate limit.
"""

from __future__ import annotations

import re
from typing import Any

from llm_mesh.errors import ContentPolicyViolation, ContextLengthExceeded, MeshError, UpstreamError

_CONTEXT = re.compile(r"too many tokens|too long|context length|maximum (context|number of tokens)|exceeds? the (maximum|limit)", re.I)
_BLOCKED = re.compile(r"blocked|usage polic|unsafe|safety|toxic", re.I)


def message_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value[:500]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"][:500]
    return ""


def classify(provider: str):  # type: ignore[no-untyped-def]
    def _classify(status: int, body: Any) -> MeshError | None:
        message = message_of(body)
        if status == 498:
            return ContentPolicyViolation(f"provider {provider} blocked the request: {message}")
        if status in (400, 422):
            if _CONTEXT.search(message):
                return ContextLengthExceeded(f"provider {provider}: {message}")
            if _BLOCKED.search(message):
                return ContentPolicyViolation(f"provider {provider}: {message}")
        if status == 499:
            return UpstreamError(f"provider {provider} cancelled the request")
        if status == 402:
            return UpstreamError(f"provider {provider} refused the request: billing limit reached",
                                 code="upstream_billing")
        return None

    return _classify
