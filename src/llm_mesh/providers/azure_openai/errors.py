"""Azure OpenAI error bodies -> mesh errors (the classify hook for http_base)."""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import ContentPolicyViolation, ContextLengthExceeded, InvalidRequest, MeshError


def classify(status: int, body: Any) -> MeshError | None:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    inner = error.get("innererror") if isinstance(error.get("innererror"), dict) else {}
    if code == "content_filter" or inner.get("code") == "ResponsibleAIPolicyViolation":
        categories = sorted(
            name
            for name, result in (inner.get("content_filter_result") or {}).items()
            if isinstance(result, dict) and (result.get("filtered") or result.get("detected"))
        )
        which = f" ({', '.join(categories)})" if categories else ""
        return ContentPolicyViolation(f"the request was blocked by the Azure OpenAI content filter{which}")
    if code == "context_length_exceeded":
        return ContextLengthExceeded(f"the request exceeds the model's context window: {str(error.get('message', ''))[:300]}")
    if status == 404 and code == "DeploymentNotFound":
        return InvalidRequest("the Azure OpenAI deployment for this model does not exist", code="upstream_model_not_found")
    return None
