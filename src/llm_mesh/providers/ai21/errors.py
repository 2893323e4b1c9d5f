"""AI21 error bodies -> mesh errors.

AI21 answers errors as ``{"detail": "..."}`` (FastAPI style): 422 for invalid
requests, 429 for rate limits (the shared mapping handles Retry-After).
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, MeshError


def classify(status: int, body: Any) -> MeshError | None:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail[:5])
    if not isinstance(detail, str) or status not in (400, 413, 422):
        return None
    lowered = detail.lower()
    if "token" in lowered and ("too long" in lowered or "context" in lowered or "exceed" in lowered):
        return ContextLengthExceeded(f"provider ai21: {detail[:300]}")
    return InvalidRequest(f"provider ai21 rejected the request: {detail[:300]}")
