"""Mistral error bodies -> mesh errors.

Mistral answers ``{"object": "error", "message": ..., "type": ..., "code": ...}``;
on 422 ``message`` is a pydantic ``{"detail": [...]}`` object. Context overflow is a
400 "Prompt contains N tokens ... too large for model with M maximum context
length", which the shared mapping already recognises.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import InvalidRequest, MeshError


def classify(status: int, body: Any) -> MeshError | None:
    if status != 422 or not isinstance(body, dict):
        return None
    message = body.get("message")
    if isinstance(message, dict) and isinstance(message.get("detail"), list):
        problems = []
        for item in message["detail"][:5]:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                problems.append(f"{where}: {item.get('msg', '')}"[:200])
        return InvalidRequest(f"provider mistral rejected the request: {'; '.join(problems)}")
    return None
