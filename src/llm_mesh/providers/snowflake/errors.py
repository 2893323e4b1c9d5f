"""Snowflake error bodies -> mesh errors.

Snowflake REST errors are ``{"code": "...", "message": "...", "request_id": ...}``;
the shared mapping reads ``message``. Here: context overflow wording.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import ContextLengthExceeded, MeshError


def classify(status: int, body: Any) -> MeshError | None:
    message = body.get("message") if isinstance(body, dict) else None
    if status != 400 or not isinstance(message, str):
        return None
    lowered = message.lower()
    if "token" in lowered and ("exceed" in lowered or "too long" in lowered) and (
        "context" in lowered or "max" in lowered or "limit" in lowered
    ):
        return ContextLengthExceeded(f"provider snowflake: {message[:300]}")
    return None
