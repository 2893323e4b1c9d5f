"""Hugging Face TGI/TEI error bodies -> mesh errors (HTTP errors and in-stream error events)."""

from __future__ import annotations

import re
from typing import Any

from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, MeshError, UpstreamError, UpstreamUnavailable

# TGI validation: "`inputs` tokens + `max_new_tokens` must be <= 4096. Given: ..." and
# "`inputs` must have less than 4096 tokens. Given: ..." (TEI says the same of its inputs).
_OVERFLOW = re.compile(r"(tokens \+ `max_new_tokens` must be <=|must have less than \d+ tokens)")


def is_context_overflow(message: str) -> bool:
    return bool(_OVERFLOW.search(message))


def classify(status: int, body: Any) -> MeshError | None:
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    message, kind = body["error"][:300], body.get("error_type")
    if status in (413, 422) and is_context_overflow(message):
        return ContextLengthExceeded(f"provider huggingface: {message}")
    if status == 422 and kind in ("validation", "template_error", "tool_error", "Validation"):
        return InvalidRequest(f"provider huggingface rejected the request: {message}")
    return None


def stream_error(provider: str, payload: dict[str, Any]) -> MeshError:
    error = payload.get("error")
    message = error if isinstance(error, str) else ""
    kind = payload.get("error_type")
    if kind == "validation" and is_context_overflow(message):
        return ContextLengthExceeded(f"provider {provider}: {message[:300]}")
    if kind == "overloaded":
        return UpstreamUnavailable(f"provider {provider} is overloaded")
    return UpstreamError(f"provider {provider} failed mid-stream ({kind or 'unknown'}): {message[:200]}")
