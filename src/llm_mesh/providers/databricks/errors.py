"""Databricks error bodies -> mesh errors.

``{"error_code": ..., "message": ...}``: the shared mapping reads ``message``;
here the codes that say more than the status, and the context-overflow wording of
TGI-backed endpoints.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import ContextLengthExceeded, InvalidRequest, MeshError
from llm_mesh.providers.huggingface.errors import is_context_overflow


def classify(status: int, body: Any) -> MeshError | None:
    if not isinstance(body, dict):
        return None
    code, message = body.get("error_code"), body.get("message")
    message = message[:300] if isinstance(message, str) else ""
    if status == 400 and is_context_overflow(message):
        return ContextLengthExceeded(f"provider databricks: {message}")
    if code == "RESOURCE_DOES_NOT_EXIST":
        return InvalidRequest("the Databricks serving endpoint does not exist", code="upstream_model_not_found")
    return None
